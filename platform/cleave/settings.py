"""Django settings for every Cleave process, derived from `cleave.config` (the environment)."""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from kombu import Queue

from cleave import config as _config
from cleave import contexts as _contexts
from cleave.gateway.redaction import remember_secrets
from cleave.logging_config import build_logging

CONFIG = _config.load(os.environ)
# Log lines mask this process's own secrets wherever they appear (cleave.gateway.redaction).
remember_secrets(
    [
        *CONFIG.secret_values(),
        *(key.partition(":")[2] for key in os.environ.get("CLEAVE_ENCRYPTION_KEYS", "").split(",")),
        os.environ.get("CLEAVE_HASH_KEY"),
    ]
)
BASE_DIR = _config.BASE_DIR

DEBUG = CONFIG.debug
SECRET_KEY = CONFIG.secret_key
ALLOWED_HOSTS = CONFIG.allowed_hosts
CSRF_TRUSTED_ORIGINS = CONFIG.csrf_trusted_origins

# Bounded contexts, one Django app each, found by their declarations (`apps/<context>/context.py`,
# cleave.contexts); `cleave` is the shared kernel. A process hosts all of them unless
# CLEAVE_CONTEXTS names some (a context's tests run with it alone, too).
_DECLARED = _contexts.declared(_config.EXTRA_CONTEXT_APPS)
CLEAVE_ALL_CONTEXTS = [context.app for context in _DECLARED]
CLEAVE_CONTEXTS = CONFIG.hosted(CLEAVE_ALL_CONTEXTS)
_HOSTED = [context for context in _DECLARED if context.app in CLEAVE_CONTEXTS]
_CONTEXT_LABELS = [context.label for context in _HOSTED]
_EDGE = _contexts.edge_of(_HOSTED)

# --- Split mode (cleave.remote) ----------------------------------------------------------------
# A contract whose context this process does not host is called over HTTP at the URL the
# environment gives (CLEAVE_<CONTEXT>_URL; a DNS name under Kubernetes), with a short-lived
# service token signed by CLEAVE_SERVICE_KEY; /internal/ accepts only tokens signed by a key
# in CLEAVE_SERVICE_JWKS whose audience is the called context.
CLEAVE_SERVICE_NAME = CONFIG.service_name or (
    "monolith" if CONFIG.contexts is None else "+".join(sorted(_CONTEXT_LABELS))
)
# Any contract this process calls but does not provide may be remote: those of the contexts it
# does not host, and those whose package it carries without the context (an extracted image).
_PROVIDED_HERE = {name for context in _HOSTED for name in context.contracts}
CLEAVE_SERVICE_URLS = CONFIG.service_urls(
    os.environ,
    sorted(
        {name for context in _DECLARED for name in context.contracts}.union(
            _contexts.contract_names()
        ).difference(_PROVIDED_HERE)
    ),
)
# The flag tables live with one service (the edge); the others load definitions from it
# through the flags contract (CLEAVE_FLAGS_URL) and evaluate locally.
CLEAVE_FLAGS_HOME = "flags" not in CLEAVE_SERVICE_URLS
CLEAVE_SERVICE_KEY = CONFIG.service_key
CLEAVE_SERVICE_JWKS = CONFIG.service_jwks
CLEAVE_SERVICE_TOKEN_SECONDS = 60
CLEAVE_REMOTE_TIMEOUT_SECONDS = CONFIG.remote_timeout_seconds
CLEAVE_REMOTE_CONNECT_TIMEOUT_SECONDS = 1.0
# Idempotent calls only: attempts after the first, and the back-off before each (doubling).
CLEAVE_REMOTE_RETRIES = 2
CLEAVE_REMOTE_RETRY_BACKOFF_SECONDS = 0.05
# A target's breaker opens after this many failures in a row, and lets one call through
# (half-open) after the reset time.
CLEAVE_BREAKER_FAIL_MAX = 5
CLEAVE_BREAKER_RESET_SECONDS = 10.0
# Where `manage.py contexts map` and /api/ops/contexts/ read observed calls and deliveries.
CLEAVE_PROMETHEUS_URL = os.environ.get("CLEAVE_PROMETHEUS_URL") or None

INSTALLED_APPS = [
    "cleave.admin_apps.CleaveAdminConfig",  # django.contrib.admin, with Cleave's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "corsheaders",
    "ninja",
    "channels",
    "cleave.flags.waffle_app.WaffleWithoutMembershipConfig",  # see that module
    "cleave",
    *CLEAVE_CONTEXTS,
    # The deploy tooling's management commands, where it is present: an extracted service's
    # image carries the runtime only.
    *(["cleave_deploy"] if find_spec("cleave_deploy") else []),
]

MIDDLEWARE = [
    "cleave.observability.http.MetricsMiddleware",
    "cleave.gateway.request_id.RequestIdMiddleware",
    "cleave.gateway.envelope.ErrorEnvelopeMiddleware",
    "cleave.app_versions.middleware.ClientVersionMiddleware",
    "cleave.gateway.private_paths.PrivatePathsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "cleave.admin_sign_in.StaffSignInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Next to the view: the request runs in its transaction (cleave.idempotency); deprecation
    # headers are added inside it, so a replayed answer repeats them.
    "cleave.idempotency.middleware.IdempotencyMiddleware",
    "cleave.gateway.deprecation.DeprecationMiddleware",
]

# The mobile API and health endpoints run a lean prefix of MIDDLEWARE (cleave.wsgi): they
# authenticate with tokens, so sessions, CSRF, messages and frame options are browser-only.
CLEAVE_API_MIDDLEWARE = [
    "cleave.observability.http.MetricsMiddleware",
    "cleave.gateway.request_id.RequestIdMiddleware",
    "cleave.gateway.envelope.ErrorEnvelopeMiddleware",
    "cleave.app_versions.middleware.ClientVersionMiddleware",
    "cleave.gateway.private_paths.PrivatePathsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Next to the view: the request runs in its transaction (cleave.idempotency); deprecation
    # headers are added inside it, so a replayed answer repeats them.
    "cleave.idempotency.middleware.IdempotencyMiddleware",
    "cleave.gateway.deprecation.DeprecationMiddleware",
]
CLEAVE_BROWSER_PATH_PREFIXES = ["/admin/", "/api/ops/", "/static/"]

# One JSON access-log line per request (cleave.observability.access_log): on in real mode, where
# logs are shipped and searched; CLEAVE_ACCESS_LOG=false/true overrides. Inside RequestIdMiddleware
# so each line carries the request and trace ids.
if os.environ.get(
    "CLEAVE_ACCESS_LOG", "true" if CONFIG.mode.value == "real" else "false"
).lower() in {"1", "true", "yes", "on"}:
    for _stack in (MIDDLEWARE, CLEAVE_API_MIDDLEWARE):
        _stack.insert(
            _stack.index("cleave.gateway.request_id.RequestIdMiddleware") + 1,
            "cleave.observability.access_log.AccessLogMiddleware",
        )

# Request metrics (cleave.observability) can be switched off, e.g. to measure their cost.
if os.environ.get("CLEAVE_METRICS", "true").lower() in {"0", "false", "no", "off"}:
    MIDDLEWARE.remove("cleave.observability.http.MetricsMiddleware")
    CLEAVE_API_MIDDLEWARE.remove("cleave.observability.http.MetricsMiddleware")

ROOT_URLCONF = "cleave.urls"
DATABASE_ROUTERS = ["cleave.databases.ContextRouter"]
WSGI_APPLICATION = "cleave.wsgi.application"
ASGI_APPLICATION = "cleave.asgi.application"
# The account model belongs to the edge context. A process that does not host it (a context's
# isolated tests, an extracted service) keeps Django's own user model for its admin.
AUTH_USER_MODEL = _EDGE.edge.user_model if _EDGE and _EDGE.edge else "auth.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


# --- Database ---------------------------------------------------------------------------------
def _tuned(database: dict[str, Any]) -> dict[str, Any]:
    database = {**database, "OPTIONS": dict(database.get("OPTIONS", {}))}
    if database["ENGINE"] == "django.db.backends.postgresql":
        # psycopg 3's pool (Django >= 5.1) keeps connections warm across requests; with a pool
        # Django requires CONN_MAX_AGE = 0 (the pool, not Django, decides a connection's life).
        database["OPTIONS"].update(
            pool={"min_size": CONFIG.db_pool_min, "max_size": CONFIG.db_pool_max, "timeout": 10},
            connect_timeout=5,
        )
        database["CONN_MAX_AGE"] = 0
        return database
    # SQLite creates its file but not its folder (var/ is not in git).
    Path(database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets readers run beside a writer; IMMEDIATE transactions avoid "database is locked"
    # when two writers upgrade their read locks at once.
    database["OPTIONS"].update(
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        timeout=20,
    )
    return database


# Every context's alias is `default` unless DATABASE_URL_<CONTEXT> gives it its own database.
DATABASES = {
    "default": _tuned(CONFIG.database),
    **{alias: _tuned(db) for alias, db in CONFIG.context_databases.items()},
}

# --- Cache, channel layer, Celery -------------------------------------------------------------
_REDIS_TIMEOUTS = {"socket_connect_timeout": 2, "socket_timeout": 2}
# Redis connection pools, sized, waiting instead of raising; the realtime gateway's limits,
# batches and process settings: each with its reason in cleave.settings_realtime.
from cleave.settings_realtime import *  # noqa: E402, F403
from cleave.settings_realtime import CLEAVE_REDIS_POOL_SIZE, CLEAVE_REDIS_POOL_TIMEOUT  # noqa: E402

_REDIS_POOL = {
    "pool_class": "redis.BlockingConnectionPool",
    "max_connections": CLEAVE_REDIS_POOL_SIZE,
    "timeout": CLEAVE_REDIS_POOL_TIMEOUT,
}
# No CHANNEL_LAYERS: sockets receive their frames through cleave.realtime's hub (one Redis
# subscription per process), not Channels' layer; only bench/realtime's baseline sets one up.
if CONFIG.embedded:
    CACHES: dict[str, dict[str, Any]] = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }
    CELERY_BROKER_URL: str | None = "memory://"
    # No broker in embedded mode: tasks run in the calling process.
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CONFIG.redis_url,
            "OPTIONS": {**_REDIS_TIMEOUTS, **_REDIS_POOL},
            # Shares Redis with the broker: prefixed, so cache keys never meet queue keys.
            "KEY_PREFIX": "cache",
        }
    }
    CELERY_BROKER_URL = CONFIG.redis_url
    CELERY_TASK_ALWAYS_EAGER = False

# At-least-once delivery: a task is acknowledged after it ran, and re-queued if its worker dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes every database connection before and after each task, and in a
# prefork child (the `worker` process) it closes the whole psycopg pool as well: every task
# then connected to PostgreSQL anew, twice (a server process forked each time), which cost the
# purchase saga's steps most of the worker's CPU (docs/benchmarks.md, purchases end to end).
# The fixup's full close now comes every this many tasks; between them cleave.celery hands
# connections back to the pool per task, as Django does per request, closing broken ones.
CELERY_DB_REUSE_MAX = 1000
# A message whose worker died is redelivered once its visibility timeout has passed, found by
# kombu's sweep of the unacknowledged index. The `events` worker (Procfile, CLEAVE_EVENTS_WORKER=1)
# keeps its own index with a short timeout (CLEAVE_EVENTS_VISIBILITY_TIMEOUT, 10 s) swept every
# 2 s, so a dead worker's batch is back in
# ~10-20 s: a batch still running past it is delivered again, which is safe because the copy waits
# on the batch's inbox high-water marks (row locks) and then finds its inbox rows (no second
# effect). Other tasks (e-mail, exports: not idempotent, maybe long) keep 300 s on the default
# index, which the events worker's sweep never touches. docs/reliability.md has the measurements.
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    "visibility_timeout": int(os.environ.get("CLEAVE_BROKER_VISIBILITY_TIMEOUT", "300")),
    **_REDIS_TIMEOUTS,
}
CLEAVE_EVENTS_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    "visibility_timeout": int(os.environ.get("CLEAVE_EVENTS_VISIBILITY_TIMEOUT", "10")),
    "unacked_key": "unacked.events",
    "unacked_index_key": "unacked_index.events",
    "unacked_mutex_key": "unacked_mutex.events",
    "unacked_restore_interval": 2,
    "unacked_restore_throttle": 1,
}
if os.environ.get("CLEAVE_EVENTS_WORKER") == "1":  # cleave.celery also sees it from --queues
    CELERY_BROKER_TRANSPORT_OPTIONS.update(CLEAVE_EVENTS_BROKER_TRANSPORT_OPTIONS)
CELERY_TASK_DEFAULT_QUEUE = CONFIG.task_queue
CELERY_TASK_QUEUES = [
    Queue(CONFIG.task_queue),
    *(Queue(context.events_queue) for context in _HOSTED),
]
CELERY_BEAT_SCHEDULE = {
    "events-sweep-outbox": {"task": "cleave.events.sweep_outbox", "schedule": 5.0},
    "events-retry-due": {"task": "cleave.events.retry_due", "schedule": 2.0},
    "events-purge": {"task": "cleave.events.purge", "schedule": 3600.0},
    # Projections catch up after each append's commit; this tick covers a lost or failed run.
    "eventstore-tick": {"task": "cleave.eventstore.tick", "schedule": 5.0},
    "eventstore-retention": {"task": "cleave.eventstore.retention", "schedule": 86400.0},
    "sagas-sweep": {"task": "cleave.sagas.sweep", "schedule": 2.0},
    "idempotency-purge": {"task": "cleave.idempotency.purge", "schedule": 3600.0},
    "sync-tombstones-purge": {"task": "cleave.sync.purge_tombstones", "schedule": 3600.0},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- HTTP, API, static ------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve static files straight from the apps in embedded mode; real mode runs collectstatic.
WHITENOISE_USE_FINDERS = CONFIG.embedded or DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cleave.gateway.drf_auth.BearerAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["cleave.gateway.drf_auth.IsStaff"],
    # Links on the trusted origin, never the Host header (cleave.gateway.hosts).
    "DEFAULT_PAGINATION_CLASS": "cleave.gateway.drf_links.TrustedLimitOffsetPagination",
    # JSON without duplicate keys or interpreter-speak in errors (cleave.gateway.json_body);
    # forms stay for the browsable API, where SessionAuthentication enforces CSRF.
    "DEFAULT_PARSER_CLASSES": [
        "cleave.gateway.drf_parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "cleave.gateway.drf_errors.exception_handler",
}
# Feature flags (cleave.flags) on django-waffle, with our flag model; the deployment's name.
WAFFLE_FLAG_MODEL = "cleave.Flag"
MIGRATION_MODULES = {"waffle": "cleave.waffle_migrations"}  # see that package's docstring
WAFFLE_CREATE_MISSING_FLAGS = False
WAFFLE_ENABLE_ADMIN_PAGES = False  # cleave.admin registers flags and switches itself
CLEAVE_ENVIRONMENT = os.environ.get("CLEAVE_ENVIRONMENT", "dev" if CONFIG.embedded else "prod")

# --- The admin in split mode (cleave.admin_sign_in, docs/extraction.md) -----------------------
# Staff sign in at one service's admin (the edge's, at /admin/); CLEAVE_ADMIN_EDGE names it in
# every other service, whose admin then lives at /admin/<service>/ behind the gateway and takes
# its user from the edge's signed staff cookie. Unset: staff sign in here (edge or monolith).
CLEAVE_ADMIN_EDGE = os.environ.get("CLEAVE_ADMIN_EDGE") or None
CLEAVE_ADMIN_PREFIX = (
    "admin/"
    if CLEAVE_ADMIN_EDGE in (None, CLEAVE_SERVICE_NAME)
    else f"admin/{CLEAVE_SERVICE_NAME}/"
)
CLEAVE_ADMIN_STAFF_COOKIE = "cleave_staff"
CLEAVE_ADMIN_STAFF_TOKEN_SECONDS = 600
if CLEAVE_ADMIN_PREFIX != "admin/":
    # Its own session cookie, under its own prefix: never the edge's `sessionid`, which this
    # service's database does not know and must not overwrite.
    SESSION_COOKIE_NAME = f"cleave_{CLEAVE_SERVICE_NAME}_session"
    SESSION_COOKIE_PATH = f"/{CLEAVE_ADMIN_PREFIX}"

# Cursor pagination of every mobile list endpoint (cleave.pagination): default and maximum.
CLEAVE_PAGE_SIZE = 20
CLEAVE_MAX_PAGE_SIZE = 100

CLEAVE_WEBSOCKET_URL = CONFIG.websocket_url
CLEAVE_MODE = CONFIG.mode.value
# Event bus. Embedded mode delivers in-process after commit; real mode through Celery queues.
CLEAVE_EVENTS_INPROCESS = CONFIG.embedded
CLEAVE_EVENTS_MAX_ATTEMPTS = 5
# Fault injection for crash tests only (cleave.sagas.faults): the saga kill point at which this
# process SIGKILLs itself, "<saga>:<step>:<before|after>[:compensate]". Empty everywhere else;
# the system check cleave.W030 warns when it is set.
CLEAVE_SAGA_KILL_AT = os.environ.get("CLEAVE_SAGA_KILL_AT", "")
CLEAVE_EVENTS_RETRY_BASE_SECONDS = 2.0
CLEAVE_EVENTS_RETRY_MAX_SECONDS = 300.0
CLEAVE_EVENTS_RETENTION_DAYS = 7
# Event store retention per stream category, in days ({"tracking.trip": 90}); a category not
# listed is kept for ever. Contexts add theirs in their declarations' settings or here.
CLEAVE_EVENTSTORE_RETENTION_DAYS: dict[str, int] = {}
# How long an event may be held behind a missing earlier event of its aggregate before the stream
# moves on without it (cleave.events.sequencing). Well above the broker's redelivery of a dead
# worker's batch (~visibility timeout + restore interval) and deliver_batch's retry backoff.
CLEAVE_EVENTS_HOLD_TIMEOUT_SECONDS = int(os.environ.get("CLEAVE_EVENTS_HOLD_TIMEOUT", "120"))

CLEAVE_REALTIME_AUTH_SECONDS = CONFIG.realtime_auth_seconds
# How long a user stays "online" after their last socket closes (a phone changing networks).
CLEAVE_REALTIME_PRESENCE_GRACE_SECONDS = CONFIG.presence_grace_seconds
# Where pushes go: "log" records them (embedded default); FCM and APNs come with their config.
CLEAVE_PUSH_PROVIDER = os.environ.get("CLEAVE_PUSH_PROVIDER", "log")

# Largest request body the embedded one-process server reads into memory.
CLEAVE_MAX_BODY_BYTES = 10 * 1024 * 1024

# --- Authentication (tokens are minted by the edge context, verified by every process) -------
CLEAVE_JWT_ISSUER = "cleave"
CLEAVE_JWT_AUDIENCE = "cleave-api"
CLEAVE_ACCESS_TOKEN_SECONDS = CONFIG.access_token_seconds
CLEAVE_REFRESH_TOKEN_SECONDS = 30 * 24 * 3600
# How long a process trusts its last "session not revoked" answer (see cleave.auth.revocation).
CLEAVE_REVOCATION_RECHECK_SECONDS = 1.0
# How long the shared cache keeps a "not revoked" answer of the session rows. A sign-out
# overwrites it at once; this only bounds how long a revocation whose cache write failed (Redis
# down at that moment) goes unseen, against one session-row query per session per 30 s.
CLEAVE_REVOCATION_LIVE_SECONDS = 30
# A process that does not host the edge context verifies tokens with keys fetched from here.
CLEAVE_JWKS_URL = CONFIG.jwks_url
# Sign-in and reset back-off is per (account, client address) (apps.identity.throttles). Past
# this many failures of one account within an hour, from anywhere, every attempt on it first
# waits the delay, and is never refused for it (so nobody can lock the owner out): 100 an hour
# is far beyond anyone mistyping, and 1 s makes guessing slow while the owner barely notices.
CLEAVE_AUTH_ACCOUNT_FAILURES_PER_HOUR = 100
CLEAVE_AUTH_ACCOUNT_DELAY_SECONDS = 1.0
# The edge context's hasher where it is hosted (its declaration says why), Argon2 elsewhere.
PASSWORD_HASHERS = [
    (
        _EDGE.edge.password_hasher
        if _EDGE and _EDGE.edge and _EDGE.edge.password_hasher
        else "django.contrib.auth.hashers.Argon2PasswordHasher"
    ),
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
PASSWORD_RESET_TIMEOUT = 3600
# Where the reset mail points (a deep link the app handles, or a web page).
CLEAVE_PASSWORD_RESET_URL = CONFIG.password_reset_url
# E-mail verification (apps.identity, issue 16 finding 12): required before an account starts
# or joins a conversation; on by default in real mode only (see cleave.config for why). The
# link is signed, names the address it went to, and lives 3 days: long enough for a mail that
# sits unread over a weekend, short enough that an old mailbox leak does not verify forever.
CLEAVE_REQUIRE_EMAIL_VERIFICATION = CONFIG.require_email_verification
CLEAVE_EMAIL_VERIFICATION_URL = CONFIG.email_verification_url
CLEAVE_EMAIL_VERIFICATION_SECONDS = 3 * 24 * 3600
DEFAULT_FROM_EMAIL = CONFIG.default_from_email
EMAIL_BACKEND = (
    "django.core.mail.backends.console.EmailBackend"
    if CONFIG.embedded and not CONFIG.email_url
    else "django.core.mail.backends.smtp.EmailBackend"
)
globals().update(CONFIG.email_settings)  # EMAIL_HOST, EMAIL_PORT, … when EMAIL_URL is set
# Proxies in front of the app (load balancer, gateway): X-Forwarded-For is trusted this deep.
CLEAVE_TRUSTED_PROXIES = CONFIG.trusted_proxies
# Encryption at rest (cleave.crypto): `kid:base64key,…` (the first encrypts, all decrypt) and
# the keyed-hash key of searchable fields; see docs/security-encryption.md. Real mode refuses to
# start without them, DEBUG or not (check cleave.E010).
CLEAVE_ENCRYPTION_KEYS = os.environ.get("CLEAVE_ENCRYPTION_KEYS") or None
CLEAVE_HASH_KEY = os.environ.get("CLEAVE_HASH_KEY") or None
# Largest JSON body the API reads (bigger → 413 payload_too_large).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- HTTP security ------------------------------------------------------------------------------
# CORS for the mobile API only: apps do not need it; a web client's origins are listed in
# CLEAVE_CORS_ORIGINS (none by default: no cross-origin browser access at all).
CORS_ALLOWED_ORIGINS = _config.list_from(os.environ, "CLEAVE_CORS_ORIGINS")
CORS_URLS_REGEX = r"^/api/v1/.*$"
CORS_ALLOW_HEADERS = ["authorization", "content-type", "if-none-match", "x-request-id"]
CORS_EXPOSE_HEADERS = ["X-Request-ID", "ETag", "Retry-After"]
CORS_PREFLIGHT_MAX_AGE = 3600
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if not CONFIG.embedded and not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # TLS ends at the gateway, which says so in X-Forwarded-Proto (and sets it itself).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Sent on HTTPS responses only; a year, once the whole domain is HTTPS (CLEAVE_HSTS_SECONDS=0
    # turns it off while trying TLS out: browsers remember the header).
    SECURE_HSTS_SECONDS = int(os.environ.get("CLEAVE_HSTS_SECONDS", str(365 * 24 * 3600)))
    # The API's host name has no plain-HTTP subdomains; preload marks it eligible for the list.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("CLEAVE_HSTS_SUBDOMAINS", "true") == "true"
    SECURE_HSTS_PRELOAD = os.environ.get("CLEAVE_HSTS_PRELOAD", "true") == "true"
    # The gateway redirects http:// to https:// (generated nginx config); redirecting here too
    # would send health probes and service-to-service calls, which stay inside the cluster on
    # plain HTTP, round in circles. Hence security.W008 is silenced, for that reason only.
    SECURE_SSL_REDIRECT = False
    SILENCED_SYSTEM_CHECKS = ["security.W008"]

LOGGING = build_logging(fmt=CONFIG.log_format, level=CONFIG.log_level)
# Django's debug page and error mails mask settings by name; ours also masks URL passwords,
# the runtime CONFIG's secrets and this process's keys in every setting and frame variable.
DEFAULT_EXCEPTION_REPORTER_FILTER = "cleave.gateway.debug_page.SecretSafeReporterFilter"

# Each hosted context's own settings, from its declaration (e.g. a rate limit it enforces).
for _context in _HOSTED:
    globals().update(_context.settings_from(os.environ))
