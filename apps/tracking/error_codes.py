"""tracking's error codes (docs/api.md lists the ones clients see)."""

from __future__ import annotations

from cleave.errors import Conflict, Forbidden, NotFound, ValidationFailed


class ConsentRequired(Forbidden):
    """Nothing is recorded or shared for a user who has not opted in (or revoked)."""

    code = "tracking_consent_required"
    message_template = "Location tracking is off: grant consent first."


class BatchConflict(Conflict):
    code = "batch_conflict"
    message_template = "This batch_id was already used for a different batch."


class TripNotFound(NotFound):
    code = "trip_not_found"
    message_template = "No such trip."


class ShareNotFound(NotFound):
    code = "share_not_found"
    message_template = "No such share."


class InvalidCell(ValidationFailed):
    code = "invalid_cell"
    message_template = "Not an H3 cell at resolution 8."


class InvalidShare(ValidationFailed):
    code = "invalid_share"
    message_template = "{reason}"


class LocationNotFound(NotFound):
    code = "location_not_found"
    message_template = "No location recorded yet."
