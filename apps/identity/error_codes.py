"""identity's error codes, in one place (the kernel's own are in cleave.errors)."""

from __future__ import annotations

from cleave.errors import BadRequest, Conflict, NotFound, Unauthorized, ValidationFailed


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    message_template = "Email or password is wrong."


class EmailTaken(Conflict):
    code = "email_taken"
    message_template = "An account with this email already exists."


class RefreshInvalid(Unauthorized):
    code = "refresh_invalid"
    message_template = "The refresh token is not valid; log in again."


class RefreshExpired(Unauthorized):
    code = "refresh_expired"
    message_template = "The refresh token has expired; log in again."


class RefreshReused(Unauthorized):
    code = "refresh_reused"
    message_template = "This refresh token was already used; the session has been signed out."


class WrongPassword(BadRequest):
    code = "wrong_password"
    message_template = "The current password is wrong."


class WeakPassword(ValidationFailed):
    code = "weak_password"
    message_template = "The password is too weak."


class ResetTokenInvalid(BadRequest):
    code = "reset_token_invalid"
    message_template = "This password reset link is invalid or has expired."


class SessionNotFound(NotFound):
    code = "session_not_found"
    message_template = "No such session."


class UserNotFoundError(NotFound):
    code = "user_not_found"
    message_template = "No such user."


class CannotBlockSelf(ValidationFailed):
    code = "cannot_block_self"
    message_template = "You cannot block yourself."


class VerificationInvalid(BadRequest):
    """Forged, mangled, or for an address the account no longer has (or no longer exists)."""

    code = "verification_invalid"
    message_template = "This verification link is not valid; ask for a new one."


class VerificationExpired(BadRequest):
    code = "verification_expired"
    message_template = "This verification link has expired; ask for a new one."


class EmailAlreadyVerified(Conflict):
    code = "email_already_verified"
    message_template = "This address is already verified."


class DisplayNameEmpty(ValidationFailed):
    code = "display_name_empty"
    message_template = "The display name is empty once surrounding spaces are removed."


class DisplayNameTooLong(ValidationFailed):
    code = "display_name_too_long"
    message_template = "The display name is longer than {max_length} characters."


class DisplayNameBidiControl(ValidationFailed):
    code = "display_name_bidi_control"
    message_template = "The display name contains bidirectional control characters."


class DisplayNameReserved(ValidationFailed):
    code = "display_name_reserved"
    message_template = "This display name is reserved: it reads as the service or its staff."


# Every way a display name is refused (registration and profile updates).
DISPLAY_NAME_ERRORS = (
    DisplayNameEmpty,
    DisplayNameTooLong,
    DisplayNameBidiControl,
    DisplayNameReserved,
)
