"""`/internal/_realtime/<context>/…`: a service answers for the streams and frames it hosts.

A realtime process that does not host a context (split mode's shared realtime service, which
must not load the context's code nor reach its database) asks the service that does, over HTTP
(`cleave.realtime.remote`): which streams a user joins on connecting, which of some streams the
user may read, the history of them the user may see now, and the answer to a client frame. Each
question runs here exactly as the realtime process would run it in process: the same
`register_streams` callables and the same frame handler, acting as the socket's user.

Every service serves this for the contexts it hosts, only for the families and frame types
their declarations name (`Realtime(stream_families=…, frame_types=…)`), and only to a service
token whose audience is the context (the contract calls' rule, `cleave.remote.server`). The
principals travel in the body: an `initial` question is asked for a batch of users at once.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI, Router, Schema

from cleave import contexts
from cleave.auth.principal import Principal, acting_as
from cleave.errors import CleaveError
from cleave.gateway.ninja_errors import StrictJsonParser, install_error_handlers
from cleave.realtime import registry
from cleave.realtime.frames import FrameError, frame_id_of, validated
from cleave.remote.server import ServiceAuth

PREFIX = "internal/_realtime/"  # `_realtime` is no context's label: contexts own internal/<label>/


class PrincipalIn(Schema):
    user_id: int
    session_id: str
    roles: list[str] = []
    expires_at: int
    platform: str | None = None
    app_version: str | None = None

    def principal(self) -> Principal:
        return Principal(
            user_id=self.user_id,
            session_id=self.session_id,
            roles=frozenset(self.roles),
            expires_at=self.expires_at,
            platform=self.platform,
            app_version=self.app_version,
        )

    @classmethod
    def of(cls, principal: Principal) -> dict[str, Any]:
        return {
            "user_id": principal.user_id,
            "session_id": principal.session_id,
            "roles": sorted(principal.roles),
            "expires_at": principal.expires_at,
            "platform": principal.platform,
            "app_version": principal.app_version,
        }


class InitialIn(Schema):
    principals: list[PrincipalIn]


class InitialOut(Schema):
    streams: dict[int, list[str]]  # user id → the streams of this context its sockets join


class ReadableIn(Schema):
    principal: PrincipalIn
    streams: list[str]


class ReadableOut(Schema):
    readable: list[str]
    # The families (prefixes) among those asked that filter history (`replay`): a resume of
    # theirs must be asked about; the others' history is as readable as the stream.
    replay: list[str]


class ReplayIn(Schema):
    principal: PrincipalIn
    history: dict[str, list[tuple[int, str]]]


class ReplayOut(Schema):
    visible: dict[str, list[str] | None]
    replay: list[str]  # as ReadableOut's


class FrameIn(Schema):
    principal: PrincipalIn
    frame: dict[str, Any]


class FrameErrorOut(Schema):
    code: str
    message: str


class FrameOut(Schema):
    frame: str | None = None  # the ack, rendered, with the client's id
    error: FrameErrorOut | None = None  # or the error the client gets instead


def _families(context: contexts.Context) -> set[str]:
    declared = context.realtime.stream_families if context.realtime else ()
    return {prefix for prefix in declared if prefix in registry.stream_families}


def _of(context: contexts.Context, streams: list[str] | dict[str, Any]) -> list[str]:
    """The streams of this context's families only: it answers for nothing else."""
    families = _families(context)
    return [stream for stream in streams if stream.split(":", 1)[0] in families]


def initial(context: contexts.Context, principals: list[Principal]) -> dict[int, list[str]]:
    users = {principal.user_id: principal for principal in principals}
    streams: dict[int, list[str]] = {user_id: [] for user_id in users}
    for prefix in sorted(_families(context)):
        family = registry.stream_families[prefix]
        if family.initial_many is not None:
            found = family.initial_many(list(users.values()))
            for user_id in users:
                streams[user_id] += found.get(user_id, [])
        else:
            for user_id, principal in users.items():
                streams[user_id] += family.initial(principal)
    return streams


def readable(
    context: contexts.Context, principal: Principal, streams: list[str]
) -> tuple[set[str], set[str]]:
    """(the streams the principal may read, the families asked about that filter history)."""
    own = _of(context, streams)
    filtering = _filtering(own)
    # The user's own stream is the realtime process's to answer, never a context's.
    mine = registry.user_stream(principal.user_id)
    return registry.readable(principal, [s for s in own if s != mine]), filtering


def _filtering(streams: list[str]) -> set[str]:
    """The families of these streams that filter history (registered a `replay`)."""
    prefixes = {stream.split(":", 1)[0] for stream in streams}
    return {prefix for prefix in prefixes if registry.stream_families[prefix].replay is not None}


def replay(
    context: contexts.Context, principal: Principal, history: dict[str, registry.Entries]
) -> tuple[dict[str, list[str] | None], set[str]]:
    """(the history the principal may see now by stream, the families that filtered it)."""
    mine = registry.user_stream(principal.user_id)
    asked = {stream: history[stream] for stream in _of(context, history) if stream != mine}
    seen = registry.replay(principal, asked) if asked else {}
    return {stream: seen.get(stream) for stream in history}, _filtering(list(asked))


def handle_frame(context: contexts.Context, principal: Principal, raw: dict[str, Any]) -> str:
    """The rendered ack of a client frame of this context's, or FrameError (as in process)."""
    kind, frame_id = raw.get("type"), frame_id_of(raw)
    declared_types = context.realtime.frame_types if context.realtime else ()
    declared = registry.frame_types.get(kind) if isinstance(kind, str) else None
    if declared is None or kind not in declared_types:
        raise FrameError("unknown_type", f"Unknown frame type {kind!r}.", frame_id)
    frame = validated(declared.frame, raw)
    try:
        with acting_as(principal):  # its contract calls carry the socket's user
            ack = declared.handler(principal, frame)
    except CleaveError as error:
        raise FrameError(error.code, error.message, frame.id) from None
    if not isinstance(ack, declared.ack):
        raise TypeError(f"{frame.type} answered {type(ack).__name__}, not {declared.ack}")
    return str(ack.model_copy(update={"id": frame.id}).render())


def build_api(
    hosted: list[contexts.Context] | None = None, *, namespace: str = "internal-realtime"
) -> NinjaAPI:
    """One router per hosted context with streams or frames, guarded by its service tokens."""
    api = NinjaAPI(
        title="Cleave internal realtime",
        version="v1",
        urls_namespace=namespace,
        # No description served: /internal/openapi.json describes the contracts; these few
        # routes are the kernel's own, documented in docs/extraction.md.
        openapi_url=None,
        docs_url=None,
        parser=StrictJsonParser(),
        description="A realtime process's questions about streams and frames it does not host.",
    )
    install_error_handlers(api)
    for context in hosted if hosted is not None else contexts.installed():
        if context.realtime is not None:
            api.add_router(f"/{context.label}", _router(context))
    return api


def _router(context: contexts.Context) -> Router:
    router = Router(auth=ServiceAuth(context.label), tags=[context.label])

    @router.post("/initial", response=InitialOut, operation_id=f"{context.label}_initial")
    def initial_view(request: HttpRequest, body: InitialIn) -> dict[str, Any]:
        return {"streams": initial(context, [p.principal() for p in body.principals])}

    @router.post("/readable", response=ReadableOut, operation_id=f"{context.label}_readable")
    def readable_view(request: HttpRequest, body: ReadableIn) -> dict[str, Any]:
        allowed, filtering = readable(context, body.principal.principal(), body.streams)
        return {"readable": sorted(allowed), "replay": sorted(filtering)}

    @router.post("/replay", response=ReplayOut, operation_id=f"{context.label}_replay")
    def replay_view(request: HttpRequest, body: ReplayIn) -> dict[str, Any]:
        history = {stream: list(entries) for stream, entries in body.history.items()}
        visible, filtering = replay(context, body.principal.principal(), history)
        return {"visible": visible, "replay": sorted(filtering)}

    @router.post("/frame", response=FrameOut, operation_id=f"{context.label}_frame")
    def frame_view(request: HttpRequest, body: FrameIn) -> dict[str, Any]:
        try:
            return {"frame": handle_frame(context, body.principal.principal(), body.frame)}
        except FrameError as error:
            return {"error": {"code": error.code, "message": error.message}}

    return router
