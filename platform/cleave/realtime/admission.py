"""Admitting sockets in batches: token checks and initial streams for many sockets at once.

A reconnect storm (every phone of a deploy, or of a network that came back) asks each question
thousands of times within a second. Asked per socket, each is a thread hand-off (100–150 µs on
a 2-core machine) plus a Redis round trip or a query. Here sockets that connect together share
one hand-off and one query: `authenticate` checks a batch of tokens in one thread hop (the
signature check is cached per token; one revocation lookup serves the batch), and
`initial_streams` asks each stream family once for the whole batch (`initial_many`).
Both hand their database connection back to the pool when done (`database_sync_to_async`), so
the executor's threads do not each hold one for the life of the process.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from django.conf import settings

from cleave.auth.principal import Principal
from cleave.auth.tokens import verify_access_tokens
from cleave.realtime import registry
from cleave.realtime.batching import MicroBatcher


async def _verify_batch(tokens: list[str]) -> list[Principal | BaseException]:
    return list(await database_sync_to_async(verify_access_tokens, thread_sensitive=False)(tokens))


async def _initial_batch(principals: list[Principal]) -> list[list[str] | BaseException]:
    initial_many = database_sync_to_async(registry.initial_streams_many, thread_sensitive=False)
    found = await initial_many(principals)
    return [list(found[principal.user_id]) for principal in principals]


_tokens: MicroBatcher[str, Principal] = MicroBatcher(
    _verify_batch,
    max_batch=settings.CLEAVE_REALTIME_ADMIT_BATCH,
    concurrency=settings.CLEAVE_REALTIME_ADMIT_CONCURRENCY,
    name="realtime-auth",
)
_initial: MicroBatcher[Principal, list[str]] = MicroBatcher(
    _initial_batch,
    max_batch=settings.CLEAVE_REALTIME_ADMIT_BATCH,
    concurrency=settings.CLEAVE_REALTIME_ADMIT_CONCURRENCY,
    name="realtime-initial-streams",
)


async def authenticate(token: str) -> Principal:
    """The token's principal, or the CleaveError that refuses it (checked with its batch)."""
    return await _tokens.submit(token)


async def initial_streams(principal: Principal) -> list[str]:
    """The streams the principal's sockets join on connecting (beside `user:<id>`)."""
    return await _initial.submit(principal)
