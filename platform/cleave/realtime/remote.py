"""Streams and frames of a context this realtime process does not host, asked of its service.

Split mode's shared realtime service serves every context's sockets but hosts (loads the code
of, shares the database of) at most one; for each other context with streams or frames it
registers a *remote* family under each of the context's declared prefixes, and its declared
frame types as remote frames. Their questions go over HTTP to `/internal/_realtime/<context>/`
on the service hosting the context (`cleave.realtime.hosted`), which answers them with the
context's own `register_streams` callables and frame handlers. Code in a context cannot tell:
it registers the same way and runs where it is hosted; the kernel picks in process or HTTP.

- `initial` (a socket connecting): one request per batch of admitted sockets, never cached —
  a new socket always starts from the host's answer.
- `readable` (a resume): answers are kept `CLEAVE_REALTIME_GRANT_SECONDS` per (user, stream),
  so a reconnect storm's resumes do not each cost a request. Revocation does not wait for
  them: a socket's live gate is its membership (`stream.left`, pushed by the context when it
  revokes, detaches the socket at once), which no cached answer restores; a cached answer can
  at most tell a socket still on a stream that its history may be asked for.
- `replay`: asked of the host every time for families that filter history (`replay=`); for the
  others the history is exactly as readable as the stream, from the cached answer.
- frames: forwarded as the client sent them (the host validates them against their model),
  answered with the host's rendered ack or its error.

The host's failure never reaches the ASGI app as an exception: a refused or failed question is
a deny (no stream joined, `forbidden` in a resume) and a frame gets an error frame
(`contract_unavailable`). Every request has a deadline and passes the target's breaker
(`cleave.remote.breakers`), so a dead host costs sockets a fast deny, not a blocked thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import httpx
from django.conf import settings

from cleave import contexts
from cleave.auth.principal import Principal
from cleave.contracts.registry import ContractUnavailable
from cleave.gateway.request_id import HEADER as REQUEST_ID_HEADER
from cleave.gateway.request_id import current_request_id
from cleave.observability.tracing import inject
from cleave.realtime import registry
from cleave.realtime.frames import FrameError, frame_id_of
from cleave.realtime.hosted import PREFIX, PrincipalIn
from cleave.remote.breakers import BreakerOpen, breaker_for
from cleave.remote.server import CALLER_HEADER
from cleave.remote.service_tokens import signer
from cleave.remote.transport import RemoteFailure

logger = logging.getLogger(__name__)

# Cached answers kept at most: past it the cache starts over (one request per user again).
GRANTS_KEPT = 100_000
# Frames of history sent in one `replay` request, at most (but one stream's, whatever its size:
# at most CLEAVE_REALTIME_RESUME_CAP frames).
REPLAY_REQUEST_BYTES = 256 * 1024


class _Grants:
    """(user id, stream) → (may read, until when): `readable` answers, briefly."""

    def __init__(self) -> None:
        self._answers: dict[tuple[int, str], tuple[bool, float]] = {}
        self._lock = threading.Lock()

    def known(self, user_id: int, streams: list[str]) -> tuple[set[str], list[str]]:
        """(the streams known readable, the streams not known either way)."""
        now, allowed, unknown = time.monotonic(), set(), []
        for stream in streams:
            answer = self._answers.get((user_id, stream))
            if answer is None or answer[1] <= now:
                unknown.append(stream)
            elif answer[0]:
                allowed.add(stream)
        return allowed, unknown

    def remember(self, user_id: int, asked: list[str], allowed: set[str]) -> None:
        until = time.monotonic() + settings.CLEAVE_REALTIME_GRANT_SECONDS
        with self._lock:
            if len(self._answers) + len(asked) > GRANTS_KEPT:
                self._answers.clear()
            for stream in asked:
                self._answers[(user_id, stream)] = (stream in allowed, until)

    def forget(self) -> None:
        with self._lock:
            self._answers.clear()


class RemoteContext:
    """The families and frames of one context, asked of the service at `base_url`."""

    def __init__(self, label: str, base_url: str) -> None:
        self.label = label
        self.base_url = base_url.rstrip("/")
        self.grants = _Grants()
        # prefix → (filters history?, until when): learnt from `readable` answers.
        self._filters: dict[str, tuple[bool, float]] = {}
        self._client: httpx.Client | None = None
        self._pid = 0
        self._lock = threading.Lock()
        # One object for all of the context's prefixes: the registry groups streams by family,
        # so a question about several of its families is one request.
        self.family = registry.StreamFamily(
            label,
            initial=self.initial,
            readable=self.readable,
            replay=self.replay,
            initial_many=self.initial_many,
        )

    # -- the family's callables (run off the event loop, as every family's are) --------------
    def initial(self, principal: Principal) -> list[str]:
        return self.initial_many([principal]).get(principal.user_id, [])

    def initial_many(self, principals: list[Principal]) -> dict[int, list[str]]:
        body = {"principals": [PrincipalIn.of(principal) for principal in principals]}
        answer = self._ask("initial", body)
        if answer is None:
            return {}  # the socket connects without this context's streams (logged)
        return {int(user): list(streams) for user, streams in answer["streams"].items()}

    def readable(self, principal: Principal, streams: list[str]) -> set[str]:
        allowed, unknown = self.grants.known(principal.user_id, streams)
        if not unknown:
            return allowed
        body = {"principal": PrincipalIn.of(principal), "streams": unknown}
        answer = self._ask("readable", body)
        if answer is None:
            return allowed  # what could not be asked is not readable
        fresh = set(answer["readable"]) & set(unknown)
        self.grants.remember(principal.user_id, unknown, fresh)
        self._learn(unknown, set(answer["replay"]))
        return allowed | fresh

    def replay(
        self, principal: Principal, history: dict[str, registry.Entries]
    ) -> dict[str, list[str] | None]:
        streams = list(history)
        if self._plain(streams):
            allowed = self.readable(principal, streams)
            return {
                stream: [frame for _, frame in entries] if stream in allowed else None
                for stream, entries in history.items()
            }
        visible: dict[str, list[str] | None] = {}
        for part in _parts(history):
            body = {"principal": PrincipalIn.of(principal), "history": part}
            answer = self._ask("replay", body)
            if answer is None:
                visible.update(dict.fromkeys(part))
                continue
            visible.update({stream: answer["visible"].get(stream) for stream in part})
            self.grants.remember(
                principal.user_id,
                list(part),
                {s for s in part if visible[s] is not None},
            )
            self._learn(list(part), set(answer["replay"]))
        return visible

    def _learn(self, streams: list[str], filtering: set[str]) -> None:
        """Which of these streams' families filter history, as the host just said."""
        until = time.monotonic() + settings.CLEAVE_REALTIME_GRANT_SECONDS
        for prefix in {stream.split(":", 1)[0] for stream in streams}:
            self._filters[prefix] = (prefix in filtering, until)

    def _plain(self, streams: list[str]) -> bool:
        """Whether none of these streams' families filters history, as last learnt."""
        now = time.monotonic()
        for prefix in {stream.split(":", 1)[0] for stream in streams}:
            known = self._filters.get(prefix)
            if known is None or known[1] <= now or known[0]:
                return False
        return True

    # -- frames ----------------------------------------------------------------------------------
    def handle_frame(self, principal: Principal, frame: dict[str, Any]) -> str:
        """The host's rendered ack, or FrameError with its code (or `contract_unavailable`)."""
        answer = self._ask("frame", {"principal": PrincipalIn.of(principal), "frame": frame})
        frame_id = frame_id_of(frame)
        if answer is None:
            unavailable = ContractUnavailable(details={"context": self.label})
            raise FrameError(unavailable.code, unavailable.message, frame_id)
        if isinstance(answer.get("frame"), str):
            return str(answer["frame"])
        error = answer.get("error") or {}
        raise FrameError(str(error.get("code")), str(error.get("message")), frame_id)

    # -- HTTP --------------------------------------------------------------------------------------
    def _ask(self, question: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """The host's answer, or None when it could not be had (logged; counts on the breaker)."""
        try:
            answer: dict[str, Any] = breaker_for(self.label).call(self._post, question, body)
        except BreakerOpen:
            logger.warning("realtime %s.%s: circuit open", self.label, question)
            return None
        except RemoteFailure as failure:
            logger.warning("realtime %s.%s failed: %s", self.label, question, failure.reason)
            return None
        return answer

    def _post(self, question: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {
            "Authorization": "Bearer " + signer.token_for(self.label, None),
            REQUEST_ID_HEADER: current_request_id.get(),
            CALLER_HEADER: settings.CLEAVE_SERVICE_NAME,
            **inject(),
        }
        url = f"/{PREFIX}{self.label}/{question}"
        try:
            response = self.client().post(url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise RemoteFailure(f"timeout ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise RemoteFailure(f"unreachable ({type(exc).__name__})") from exc
        if response.status_code != 200:
            # A refused token or a body the host's version rejects is a misconfiguration: it
            # fails like an unreachable host (deny), loudly, rather than as a guess.
            raise RemoteFailure(f"answered {response.status_code} {response.text[:200]!r}")
        try:
            answer = response.json()
        except ValueError as exc:
            raise RemoteFailure("answered something that is not JSON") from exc
        if not isinstance(answer, dict):
            raise RemoteFailure("answered something that is not a JSON object")
        return answer

    def client(self) -> httpx.Client:
        """One pooled client per process (rebuilt after a fork), bounded: see the settings."""
        if self._client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    self._client = httpx.Client(
                        base_url=self.base_url,
                        timeout=httpx.Timeout(
                            settings.CLEAVE_REALTIME_REMOTE_TIMEOUT_SECONDS,
                            connect=settings.CLEAVE_REMOTE_CONNECT_TIMEOUT_SECONDS,
                            pool=settings.CLEAVE_REALTIME_REMOTE_POOL_TIMEOUT_SECONDS,
                        ),
                        limits=httpx.Limits(
                            max_connections=settings.CLEAVE_REALTIME_REMOTE_CONNECTIONS,
                            max_keepalive_connections=settings.CLEAVE_REALTIME_REMOTE_CONNECTIONS,
                        ),
                    )
                    self._pid = os.getpid()
        return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._client = None


def _parts(history: dict[str, registry.Entries]) -> list[dict[str, registry.Entries]]:
    """The history in requests of at most REPLAY_REQUEST_BYTES of frames each (the host reads
    bodies up to DATA_UPLOAD_MAX_MEMORY_SIZE, 1 MiB), a stream never split across two: a
    resume of many long streams is several requests, not one refused."""
    parts: list[dict[str, registry.Entries]] = []
    size = 0
    for stream, entries in history.items():
        length = sum(len(frame) + 16 for _, frame in entries)
        if not parts or (parts[-1] and size + length > REPLAY_REQUEST_BYTES):
            parts.append({})
            size = 0
        parts[-1][stream] = entries
        size += length
    return parts


remote_contexts: dict[str, RemoteContext] = {}


def register(context: contexts.Context, base_url: str) -> RemoteContext:
    """Serve `context`'s declared families and frame types here, asked of `base_url`."""
    if context.realtime is None:
        raise ValueError(f"{context.label} declares no streams nor frames")
    remote = RemoteContext(context.label, base_url)
    remote_contexts[context.label] = remote
    for prefix in context.realtime.stream_families:
        registry.remote_families[prefix] = remote.family
    for frame_type in context.realtime.frame_types:
        registry.remote_frames[frame_type] = context.label
    return remote


def unregister(label: str) -> None:
    remote = remote_contexts.pop(label, None)
    if remote is None:
        return
    remote.close()
    for prefix, family in list(registry.remote_families.items()):
        if family is remote.family:
            del registry.remote_families[prefix]
    for frame_type, owner in list(registry.remote_frames.items()):
        if owner == label:
            del registry.remote_frames[frame_type]


def register_not_hosted() -> None:
    """Every context of the deployment with streams or frames that this process does not host
    and whose service it knows (CLEAVE_<CONTEXT>_URL): asked over HTTP (module docstring)."""
    hosted = {context.label for context in contexts.installed()}
    for context in contexts.all_contexts():
        url = settings.CLEAVE_SERVICE_URLS.get(context.label)
        if context.realtime is not None and context.label not in hosted and url:
            register(context, url)


def handle_frame(principal: Principal, frame: dict[str, Any]) -> str:
    """A remote frame type's answer (see RemoteContext.handle_frame)."""
    return remote_contexts[registry.remote_frames[frame["type"]]].handle_frame(principal, frame)
