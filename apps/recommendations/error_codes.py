"""recommendations's error codes (documented for clients in docs/recommendations.md)."""

from __future__ import annotations

from cleave.errors import NotFound, ValidationFailed


class InvalidCell(ValidationFailed):
    code = "recommendations_invalid_cell"
    message_template = "Not an H3 cell at resolution 8."


class ShowNotFound(NotFound):
    code = "recommendations_show_not_found"
    message_template = "No such show among the recommended ones."
