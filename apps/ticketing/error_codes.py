"""ticketing's error codes (documented for clients in docs/ticketing.md)."""

from __future__ import annotations

from cleave.errors import Conflict, Forbidden, NotFound, ValidationFailed


class ShowNotFound(NotFound):
    """Also what a draft show answers to anyone but staff: drafts are not announced."""

    code = "show_not_found"
    message_template = "No such show."


class CategoryNotFound(NotFound):
    code = "category_not_found"
    message_template = "No such seat category."


class HoldNotFound(NotFound):
    """Also what another buyer's hold answers: its existence is not leaked."""

    code = "hold_not_found"
    message_template = "No such hold."


class ShowNotOnSale(Conflict):
    code = "show_not_on_sale"
    message_template = "This show is not on sale."


class SoldOut(Conflict):
    """Fewer seats are left (neither sold nor held) than asked for; `details.available`."""

    code = "sold_out"
    message_template = "Not enough seats are left in this category."


class HoldNotActive(Conflict):
    """The hold was released or expired (its seats may be someone else's by now)."""

    code = "hold_not_active"
    message_template = "This hold is no longer active ({status})."


class HoldKeyReused(ValidationFailed):
    code = "hold_key_reused"
    message_template = "This hold key was used for another hold."


class ShowAlreadyPublished(Conflict):
    code = "show_already_published"
    message_template = "This show is already published."


class ShowIncomplete(ValidationFailed):
    code = "show_incomplete"
    message_template = "A show needs at least one seat category before it is published."


class TooManySeats(ValidationFailed):
    code = "too_many_seats"
    message_template = "One hold takes at most {maximum} seats."


class NotInQueue(NotFound):
    """The buyer has no place in this show's waiting room: join it first."""

    code = "not_in_queue"
    message_template = "You have no place in this show's queue."


class AdmissionRequired(Forbidden):
    """The show's on-sale has a waiting room: holds need the buyer's admission token (from
    joining the queue, `details.queue` names the stream that tells when). Also what an
    expired token or another buyer's answers."""

    code = "admission_required"
    message_template = "Wait for your turn in this show's queue, then send its admission token."


class OrderNotFound(NotFound):
    """Also what another buyer's order answers: its existence is not leaked."""

    code = "order_not_found"
    message_template = "No such order."


class OrderNotCancellable(Conflict):
    """The order completed (tickets issued, payment captured) before the cancel arrived."""

    code = "order_not_cancellable"
    message_template = "This order is {status}; it can no longer be cancelled."


class IdempotencyKeyRequired(ValidationFailed):
    """An order takes money: a retry after a lost answer must find the first order, never place
    a second one, so the header is required here (optional elsewhere)."""

    code = "idempotency_key_required"
    message_template = "Send an Idempotency-Key header with this request."


class OrderKeyReused(ValidationFailed):
    code = "order_key_reused"
    message_template = "This Idempotency-Key was used for another order."


class SeatLayoutInvalid(ValidationFailed):
    """A numbered category's seats cannot be laid out so; `details.reason` says why
    (`empty`, `too_many`, `bad_row`, `bad_number`, `duplicate_seat`, `capacity_mismatch`) and
    `details.seat` names the first offending seat when there is one."""

    code = "seat_layout_invalid"
    message_template = "The seat layout is not valid ({reason})."


class CategoryInUse(Conflict):
    """Seats are laid out while the show is a draft: once on sale, a category keeps its own."""

    code = "category_in_use"
    message_template = "This category's show is on sale; its seats can no longer change."


class SeatNotInCategory(ValidationFailed):
    """Named seats that are not seats of this category (`details.seat_ids`); also any seat
    named for a general-admission category, which has none."""

    code = "seat_not_in_category"
    message_template = "Some of the seats named are not in this category."


class SeatCountMismatch(ValidationFailed):
    """`quantity` must equal the number of seats named (each once)."""

    code = "seat_count_mismatch"
    message_template = "Name {quantity} different seats, or none."


class SeatTaken(Conflict):
    """Named seats another buyer holds or bought (`details.seat_ids`): pick others."""

    code = "seat_taken"
    message_template = "Some of the seats named are no longer available."
