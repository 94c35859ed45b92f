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


class UserUnavailable(Forbidden):
    """A block stands between the two users. Deliberately says no more than that (not who
    blocked whom), and the same for a direct conversation, an invitation and a send."""

    code = "user_unavailable"
    message_template = "This user cannot be reached."


class AlreadyMember(Conflict):
    code = "already_member"
    message_template = "This user is already a member."


class InvitationNotFound(NotFound):
    """Also what anyone but the invitee gets, and an invitation already answered."""

    code = "invitation_not_found"
    message_template = "No such invitation."


class EmailUnverified(Forbidden):
    """An account that has not proven its address cannot start a conversation or join one
    (while CLEAVE_REQUIRE_EMAIL_VERIFICATION is on); `details.user_ids` names which."""

    code = "email_unverified"
    message_template = "Every member must have verified their e-mail address first."
