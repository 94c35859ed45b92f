"""ticketing's tables: venues, shows, seat categories and their counter shards, holds, tickets,
check-ins, and waiting rooms with their queues. Buyers are users of identity, kept by id only
(never a foreign key).

The on-sale invariant (sold + held ≤ capacity) lives in the database: a category's capacity is
split over `CategoryShard` rows, each with a CHECK that `held + sold <= capacity`, so no race,
bug or manual UPDATE can oversell (docs/ticketing.md, "On-sale"). A numbered category also has
`Seat` rows: a seat is in one hold at most (a column), and sold once (a partial unique index).
"""

from __future__ import annotations

import uuid

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from cleave.crypto import EncryptedTextField


class Venue(models.Model):
    name = models.CharField(max_length=200)
    city = models.CharField(max_length=120, db_index=True)
    address = models.CharField(max_length=300, blank=True)
    latitude = models.FloatField()
    longitude = models.FloatField()
    # The H3 cell (resolution 8, ~0.7 km²) holding the venue: what ShowPublished carries so that
    # recommendations can match places without geometry.
    h3_cell = models.CharField(max_length=16, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__gte=-90, latitude__lte=90)
                & Q(longitude__gte=-180, longitude__lte=180),
                name="ticketing_venue_coordinates",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.city})"


class Show(models.Model):
    """A concert, a match: "show", so that "event" keeps meaning a domain event."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        PUBLISHED = "published"

    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="shows")
    title = models.CharField(max_length=200)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    # The show's Ed25519 key pair: tickets are signed with the private key (encrypted at rest),
    # door scanners verify offline with the public one (raw 32 bytes, base64url).
    public_key = models.CharField(max_length=64)
    private_key = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["status", "starts_at", "id"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gte=F("starts_at")), name="ticketing_show_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return self.title


class SeatCategory(models.Model):
    show = models.ForeignKey(Show, on_delete=models.CASCADE, related_name="categories")
    name = models.CharField(max_length=100)
    price_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="EUR")
    capacity = models.PositiveIntegerField()
    # Numbered: the category has `Seat` rows (capacity == their number) and a hold gets specific
    # seats; otherwise general admission, counters only.
    numbered = models.BooleanField(default=False)
    # How many counter rows the capacity is split over: buyers lock one shard each (SKIP
    # LOCKED), so up to this many holds of the category commit in parallel.
    shard_count = models.PositiveSmallIntegerField(default=16)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["show", "name"], name="ticketing_category_name"),
            models.CheckConstraint(condition=Q(shard_count__gte=1), name="ticketing_shards_ge_1"),
        ]

    def __str__(self) -> str:
        return f"{self.show} — {self.name}"


class CategoryShard(models.Model):
    """One slice of a category's capacity. The CHECK is the no-oversell invariant."""

    # Found by category through the (category, index) unique index, which leads with it: no
    # index of the foreign key's own (one index fewer to open on every hold's UPDATE).
    category = models.ForeignKey(
        SeatCategory, on_delete=models.CASCADE, related_name="shards", db_index=False
    )
    # Plain integer fields, not Positive…Field: each of those adds a CHECK of its own, and
    # PostgreSQL reads every CHECK of a table back from its text and prepares it at each
    # statement that writes the table (per hold: 40-90 µs of ~350 for the four, one client, in
    # bench/ticketing). The one CHECK below implies them all (capacity ≥ held + sold ≥ 0); the
    # index is written only by services.shows (0 … shard_count - 1, unique per category).
    index = models.SmallIntegerField(validators=[MinValueValidator(0)])
    capacity = models.IntegerField(validators=[MinValueValidator(0)])
    held = models.IntegerField(default=0, validators=[MinValueValidator(0)])
    sold = models.IntegerField(default=0, validators=[MinValueValidator(0)])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["category", "index"], name="ticketing_shard_index"),
            models.CheckConstraint(
                condition=Q(held__gte=0) & Q(sold__gte=0) & Q(capacity__gte=F("held") + F("sold")),
                name="ticketing_shard_never_oversold",
            ),
        ]

    def __str__(self) -> str:
        return f"shard {self.index} of category {self.category_id}"


class Seat(models.Model):
    """A numbered seat of a category. `hold` is the hold that has it (active, or converted into
    the seat's ticket); NULL means free. One column, so a seat can never be in two holds."""

    category = models.ForeignKey(SeatCategory, on_delete=models.CASCADE, related_name="seats")
    row = models.CharField(max_length=8)
    number = models.PositiveSmallIntegerField()
    # Best first: the order "best available" picks in (the layout's order: front rows first).
    position = models.PositiveIntegerField()
    hold = models.ForeignKey(
        "Hold", on_delete=models.PROTECT, null=True, blank=True, related_name="seats"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["category", "row", "number"], name="ticketing_seat_label"
            ),
            models.UniqueConstraint(
                fields=["category", "position"], name="ticketing_seat_position"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="ticketing_seat_number"),
        ]
        indexes = [
            # The picker's scan: a category's free seats, best first.
            models.Index(
                fields=["category", "position"],
                condition=Q(hold=None),
                name="ticketing_seat_free",
            )
        ]

    def __str__(self) -> str:
        return f"row {self.row} seat {self.number}"


# The namespace of the ids of holds placed with a key (Hold.id_for_key); never to change, or a
# saga retrying its step would place a second hold.
HOLD_KEY_NAMESPACE = uuid.UUID("ba78a0e1-2788-4a93-a784-24513afca3a8")


class Hold(models.Model):
    """Seats reserved for a buyer until `expires_at`; converted into tickets, or released."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        RELEASED = "released"  # by the buyer or a compensating saga
        EXPIRED = "expired"  # by the sweeper, or by a buyer who needed the seats
        CONVERTED = "converted"  # into tickets

    # Every index here is written by each hold of an on-sale, the hottest insert there is: only
    # those a query needs (docs/ticketing.md, "The hold's row"). Holds are read by id (the
    # buyer's are filtered by user on top), by key, by category, and live ones by expiry.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.BigIntegerField()
    # No foreign key constraint in the database: its check would take a key-share lock on the
    # category's one row for every hold of the sale, and concurrent lockers of one row share it
    # through a MultiXact rewritten by each newcomer (a WAL record and the hot row's page
    # dirtied per hold: 14 % of the on-sale's throughput in bench/ticketing). The shard's
    # foreign key (checked under the hold's own lock on that row) ties the hold to the shard,
    # and the shard to its category; Django's PROTECT still refuses to delete a category with
    # holds.
    category = models.ForeignKey(
        SeatCategory, on_delete=models.PROTECT, related_name="holds", db_constraint=False
    )
    # The shard every seat came from; NULL when they came from several (HoldAllocation rows
    # then). One shard is the rule, and recording it here spares the hot path a row and its
    # three index entries. Neither indexed nor checked by the database: the hold's statement
    # takes the id from the shard row it has just updated under its own lock, and a shard is
    # deleted only with the layout of a draft's category that has no holds (services.shows,
    # Django's PROTECT besides), while the check's deferred trigger ran a query and re-locked
    # that row at every hold's commit. selectors.invariant_violations reports a hold naming a
    # shard that does not exist.
    shard = models.ForeignKey(
        CategoryShard,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # Not a PositiveSmallIntegerField: its CHECK (≥ 0) would be one more per hold, and the
    # constraint below (≥ 1) says more (see CategoryShard on what a CHECK costs the hot path).
    quantity = models.SmallIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    # A hold placed with a key (a saga step's, say) has the key's name-based UUID for its id
    # (`id_for_key`): the primary key makes the key unique, so the hot insert writes no index
    # entry for it (about 15 % of the on-sale's throughput in bench/ticketing). This column
    # holds the key of holds placed before 2026-12-07 only (random ids), unique where given;
    # selectors.hold_by_key finds both kinds.
    key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - NULL: no key
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The sweeper's scan: only active holds, by expiry.
            models.Index(
                fields=["expires_at"], condition=Q(status="active"), name="ticketing_hold_live"
            )
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="ticketing_hold_quantity"),
            models.UniqueConstraint(
                fields=["key"], condition=Q(key__isnull=False), name="ticketing_hold_key"
            ),
        ]

    def __str__(self) -> str:
        return f"hold {self.id} ({self.quantity}, {self.status})"

    @staticmethod
    def id_for_key(key: str) -> uuid.UUID:
        """The id of the hold placed with `key` (a version-5 UUID: the same key, the same id)."""
        return uuid.uuid5(HOLD_KEY_NAMESPACE, key)


class HoldAllocation(models.Model):
    """Which shards a hold took its seats from, when it took them from several (a category
    nearly full, a hold of several seats); a hold from one shard names it itself (Hold.shard)."""

    hold = models.ForeignKey(Hold, on_delete=models.CASCADE, related_name="allocations")
    shard = models.ForeignKey(CategoryShard, on_delete=models.PROTECT)
    quantity = models.PositiveSmallIntegerField()

    def __str__(self) -> str:
        return f"{self.quantity} from shard {self.shard_id}"


class Ticket(models.Model):
    class Status(models.TextChoices):
        VALID = "valid"
        VOID = "void"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.BigIntegerField()
    show = models.ForeignKey(Show, on_delete=models.PROTECT, related_name="tickets")
    category = models.ForeignKey(SeatCategory, on_delete=models.PROTECT, related_name="tickets")
    hold = models.ForeignKey(Hold, on_delete=models.PROTECT, related_name="tickets")
    shard = models.ForeignKey(CategoryShard, on_delete=models.PROTECT)
    # Its seat in a numbered category (NULL: general admission).
    seat = models.ForeignKey(
        Seat, on_delete=models.PROTECT, null=True, blank=True, related_name="tickets"
    )
    # The caller's reference (the purchase saga's order id), kept for support and audits.
    order_ref = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.VALID)
    issued_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["user_id", "issued_at", "id"])]
        constraints = [
            # A seat is sold once: a voided ticket's seat may be sold again.
            models.UniqueConstraint(
                fields=["seat"], condition=Q(status="valid"), name="ticketing_ticket_seat_once"
            )
        ]

    def __str__(self) -> str:
        return f"ticket {self.id}"


class CheckIn(models.Model):
    """A ticket's first use. Offline scans uploaded later may replace it with an earlier scan:
    first scan wins by the time the scanner saw the ticket, not by upload order."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="checkin")
    scanned_at = models.DateTimeField()
    gate = models.CharField(max_length=60)
    scanner_user_id = models.BigIntegerField()
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"check-in of {self.ticket_id} at {self.gate}"


class WaitingRoom(models.Model):
    """A show's virtual waiting room: buyers are let through to hold seats at most
    `admissions_per_second` at a time, first come first served (docs/ticketing.md, "Waiting
    room"). Its admission budget is a token bucket kept on this row."""

    show = models.OneToOneField(
        Show, on_delete=models.CASCADE, primary_key=True, related_name="waiting_room"
    )
    admissions_per_second = models.PositiveIntegerField()
    tokens = models.FloatField(default=0)  # admissions the bucket holds now (at `refilled_at`)
    refilled_at = models.DateTimeField()
    announced_at = models.DateTimeField(null=True, blank=True)  # the last `queue.progress`

    def __str__(self) -> str:
        return f"waiting room of show {self.show_id}"


class QueueEntry(models.Model):
    """One buyer's place in a show's waiting room, kept across reconnects: joining again is
    the same entry. `id` orders the queue (its place); `admitted_at` is set when let through."""

    show = models.ForeignKey(Show, on_delete=models.CASCADE, related_name="queue_entries")
    user_id = models.BigIntegerField()
    joined_at = models.DateTimeField(auto_now_add=True)
    admitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["show", "user_id"], name="ticketing_queue_one_place")
        ]
        indexes = [
            # The waiting, in order: whom to admit next and how many are ahead of a place.
            models.Index(
                fields=["show", "id"], condition=Q(admitted_at=None), name="ticketing_queue_waiting"
            )
        ]
        verbose_name_plural = "queue entries"

    def __str__(self) -> str:
        return f"place {self.pk} of user {self.user_id} for show {self.show_id}"


class Order(models.Model):
    """A purchase: its seats, price and payment, driven by the purchase saga (apps.ticketing.
    sagas), whose id is the order's. Statuses move forward only; `reason` says why an order
    was cancelled (declined, timeout, cancelled, failed, sold_out, seat_taken, hold_expired,
    operator)."""

    class Status(models.TextChoices):
        PLACED = "placed"  # the saga holds the seats
        AWAITING_PAYMENT = "awaiting_payment"  # the app confirms with the client secret
        AUTHORIZED = "authorized"  # money held at the provider; capturing
        PAID = "paid"  # captured; issuing tickets
        COMPLETED = "completed"  # tickets issued
        CANCELLING = "cancelling"  # compensating: tickets voided, money back, seats released
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.BigIntegerField()
    category = models.ForeignKey(SeatCategory, on_delete=models.PROTECT, related_name="orders")
    quantity = models.PositiveSmallIntegerField()
    # The seats the buyer named (numbered categories; empty: the best available are picked).
    seat_ids = models.JSONField(default=list, blank=True)
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    # A saved method ("pm_…") the saga confirms with at once; empty: the app confirms.
    payment_method = models.CharField(max_length=200, blank=True)
    # The buyer's Idempotency-Key: a retried POST finds this order instead of a second one.
    idempotency_key = models.CharField(max_length=255)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLACED)
    reason = models.CharField(max_length=40, blank=True)
    hold_id = models.UUIDField(null=True, blank=True)
    # payments' intent, by id only (another context's entity).
    payment_intent_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user_id", "created_at", "id"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user_id", "idempotency_key"], name="ticketing_order_idempotency_key"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="ticketing_order_quantity"),
        ]

    def __str__(self) -> str:
        return f"order {self.id} ({self.status})"
