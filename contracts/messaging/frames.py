"""messaging on `/ws/v1`: the `message.send` frame and its ack, and the payloads of the events
on conversation streams (`conv:<id>`). Registered by apps.messaging.realtime."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from cleave.realtime.frames import AckFrame, ClientFrame

# A bigint column holds the ids (cleave.api.ID_MAX); larger ones are refused, never queried.
ConversationId = Annotated[int, Field(gt=0, le=2**63 - 1)]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MessageData(Payload):
    """A message as REST shows it (a deleted one is a tombstone: empty text, deleted true)."""

    id: int
    conversation_id: int
    seq: int
    sender_id: int
    client_msg_id: str
    text: str
    created_at: Timestamp
    edited_at: Timestamp | None
    deleted: bool


class MessageSendFrame(ClientFrame):
    """Send a message, as `POST /api/v1/conversations/{id}/messages` does."""

    invalid_code: ClassVar[str] = "validation_error"  # what REST answers for such a body

    type: Literal["message.send"]
    conversation_id: ConversationId
    text: str
    client_msg_id: str = Field(min_length=1, max_length=64)


class MessageSendAck(AckFrame):
    message: MessageData
    created: bool = Field(description="False: a retry with the same client_msg_id.")


class MemberChange(Payload):
    """`member.added` / `member.removed`: who, by whom, and when (a resume shows it only to
    members who had joined by then)."""

    user_id: int
    by: int
    at: Timestamp


class ReadReceipt(Payload):
    """`messages.read`: a member has read up to `last_read_seq`."""

    user_id: int
    last_read_seq: int
    at: Timestamp
