"""messaging's error codes."""

from __future__ import annotations

from cleave.errors import Conflict, Forbidden, NotFound, ValidationFailed


class ConversationNotFound(NotFound):
    """Also what a non-member gets: a conversation's existence is not leaked."""

    code = "conversation_not_found"
    message_template = "No such conversation."


class MessageNotFound(NotFound):
    code = "message_not_found"
    message_template = "No such message."


class NotOwner(Forbidden):
    code = "not_owner"
    message_template = "Only the conversation's owner can do this."


class NotSender(Forbidden):
    code = "not_sender"
    message_template = "Only the sender can change a message."


class MessageDeletedError(Conflict):
    code = "message_deleted"
    message_template = "This message was deleted."


class InvalidMembers(ValidationFailed):
    code = "invalid_members"
    message_template = "{reason}"


class NotAGroup(Conflict):
    code = "not_a_group"
    message_template = "Members of a direct conversation cannot change."


class EmailUnverified(Forbidden):
    """An account that has not proven its address cannot start a conversation or join one
    (while CLEAVE_REQUIRE_EMAIL_VERIFICATION is on); `details.user_ids` names which."""

    code = "email_unverified"
    message_template = "Every member must have verified their e-mail address first."
