"""messaging declares itself: conversations, their streams on the realtime process."""

from collections.abc import Mapping

from cleave.contexts import Context, Realtime


def _settings(env: Mapping[str, str]) -> dict[str, str]:
    # Messages one user may send, over REST and the socket together, per window (counted in the
    # cache: Redis in real mode, so shared by every process). 20 per 10 s is far above a person
    # typing and far below a spammer's loop (the probe sent 60 in 0.7 s). Load tests raise it.
    return {"CLEAVE_MESSAGING_SEND_RATE": env.get("CLEAVE_MESSAGING_SEND_RATE", "20/10s")}


CONTEXT = Context(
    label="messaging",
    app="apps.messaging",
    # A socket joins its conversations' streams; `conv` says who may read one (membership).
    realtime=Realtime(stream_families=("conv",), frame_types=("message.send",)),
    url_prefixes=("/api/v1/conversations", "/api/v1/invitations"),
    settings=_settings,
)
