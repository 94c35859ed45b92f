"""Settings of the realtime gateway and its Redis pools, each with the reason for its value.

Part of `cleave.settings` (which imports every name here): the reconnect storm (issue 16,
finding 13) showed that these are decisions, not defaults, so each one says why it is what it
is. Values that depend on the runtime config stay in `cleave.settings`.
"""

from __future__ import annotations

import os

# Redis connection pools. redis-py's default pool holds 100 connections and raises
# MaxConnectionsError as soon as all are taken (a reconnect storm took them all in a moment:
# issue 16, finding 13). Every pool Cleave builds is a BlockingConnectionPool instead: past its
# size a caller waits up to CLEAVE_REDIS_POOL_TIMEOUT for a connection, then gets a
# ConnectionError. Synchronous pools serve one process's threads (asgiref's executor: at most
# 32; granian's blocking threads; Celery's pool), so 32 is more than any of them uses at once.
# Asyncio pools (realtime) carry batched pipelines (cleave.realtime.batching), so a few busy
# connections serve thousands of sockets. 5 s is well within the 10 s a mobile client waits
# for `ready` and long beyond a healthy Redis's worst round trip.
CLEAVE_REDIS_POOL_SIZE = int(os.environ.get("CLEAVE_REDIS_POOL_SIZE", "32"))
CLEAVE_REDIS_POOL_TIMEOUT = float(os.environ.get("CLEAVE_REDIS_POOL_TIMEOUT", "5"))
CLEAVE_REALTIME_REDIS_POOL_SIZE = int(os.environ.get("CLEAVE_REALTIME_REDIS_POOL_SIZE", "16"))

# Realtime gateway: retained history per stream (count and age), how many missed events one
# resume replays before it answers resync_required, and frames a socket may send per second.
CLEAVE_REALTIME_HISTORY = 1000
CLEAVE_REALTIME_HISTORY_SECONDS = 24 * 3600
CLEAVE_REALTIME_RESUME_CAP = 500
# Streams one resume frame may name: an app with more conversations sends several frames. The
# bound (with each ten streams charged as a frame) keeps one frame from holding a thread for
# seconds (3,000 streams took 2.2 s before it).
CLEAVE_REALTIME_RESUME_MAX_STREAMS = 100
CLEAVE_REALTIME_FRAMES_PER_SECOND = 20
# Sockets connecting together are admitted in batches (cleave.realtime.admission): at most
# this many per token check, initial-streams query or presence pipeline, and at most this many
# such batches of one kind at once (each holds a thread or a Redis connection). 256 keeps one
# `WHERE user_id IN (…)` query and one pipeline small; 2 lets a batch start while one runs.
CLEAVE_REALTIME_ADMIT_BATCH = 256
# The realtime server's accept backlog (uvicorn --backlog; the Procfile says the same number):
# uvicorn's 2048 is less than one deploy's worth of phones reconnecting at once, and a full
# queue drops SYNs, which clients see as a 1 s, then 3 s, retransmit. The kernel caps it at
# net.core.somaxconn (4096 on current Linux; raise it with sysctl on a realtime host).
CLEAVE_REALTIME_BACKLOG = 8192
# Allocations between young garbage collections in the ASGI process (cleave.asgi says why;
# CPython's default is 700).
CLEAVE_GC_YOUNG_THRESHOLD = int(os.environ.get("CLEAVE_GC_YOUNG_THRESHOLD", "50000"))
CLEAVE_REALTIME_ADMIT_CONCURRENCY = 2
# Benchmarks only: append "<sockets> <ms>" per fan-out to this file (see bench/realtime).
CLEAVE_REALTIME_STATS_PATH = os.environ.get("CLEAVE_REALTIME_STATS_PATH") or None

# Streams and frames of contexts this realtime process does not host are asked of their
# service over HTTP (cleave.realtime.remote). httpx's defaults (100 connections, 5 s for each of
# connect, read, write and pool) are not decisions: the questions run on asgiref's executor
# threads (at most 32) and the admission batches, so 32 connections per target is as many as
# are ever in use at once — a reconnect storm waits for a thread, never for a connection.
# A pooled connection is waited for 1 s at most, a new one 1 s (CLEAVE_REMOTE_CONNECT_…), and
# an answer 5 s: a frame's handler writes (a batch of points), within the 10 s a client waits.
CLEAVE_REALTIME_REMOTE_CONNECTIONS = int(os.environ.get("CLEAVE_REALTIME_REMOTE_CONNECTIONS", "32"))
CLEAVE_REALTIME_REMOTE_TIMEOUT_SECONDS = float(
    os.environ.get("CLEAVE_REALTIME_REMOTE_TIMEOUT_SECONDS", "5")
)
CLEAVE_REALTIME_REMOTE_POOL_TIMEOUT_SECONDS = 1.0
# How long a remote context's `readable` answer is kept per (user, stream): a storm of resumes
# asks once per user and stream within it. Revocation is not bounded by it (the socket's live
# gate is its membership, cut by `stream.left`); it bounds how long a resume may still be told
# a stream is readable (docs/extraction.md, "Streams of a context the realtime process does
# not host").
CLEAVE_REALTIME_GRANT_SECONDS = float(os.environ.get("CLEAVE_REALTIME_GRANT_SECONDS", "5"))
