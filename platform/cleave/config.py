"""Read Cleave's runtime configuration from the environment, once, into a typed value.

Embedded mode (the default, nothing set) runs the whole system in one process with SQLite,
an in-memory channel layer and in-process events. Real mode starts as soon as `DATABASE_URL`
or `REDIS_URL` is set (or `CLEAVE_MODE=real`), and then refuses unsafe settings whatever `DEBUG`
says: `DEBUG` shows tracebacks, it never turns a check off. The `Config` never prints a secret:
its repr masks keys and the passwords inside URLs (it shows on Django's debug page).
Kept free of Django so settings, tests and tools can parse an environment without booting it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parents[2]
# Context apps beyond apps/ that the settings should know of; the test settings add the
# kernel's example contexts here before importing cleave.settings.
EXTRA_CONTEXT_APPS: list[str] = []

_EMBEDDED_SECRET = "django-insecure-embedded-mode-only-never-used-in-real-mode"  # noqa: S105 - embedded mode only; refused in real mode
_MIN_SECRET_LENGTH = 50
_MIN_SECRET_UNIQUE_CHARS = 5
MASK = "[redacted]"
# Fields whose whole value is a secret, and fields that are URLs (or parsed database settings)
# whose password is one; repr() masks both.
_SECRET_FIELDS = frozenset({"secret_key", "service_key"})
_URL_FIELDS = frozenset({"redis_url", "email_url", "database", "context_databases"})
_URL_PASSWORD = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]+)(?=@)", re.I
)


class Mode(StrEnum):
    EMBEDDED = "embedded"
    REAL = "real"


@dataclass(frozen=True)
class Config:
    """Everything the settings module needs, already validated."""

    mode: Mode
    debug: bool
    secret_key: str
    allowed_hosts: list[str]
    database: dict[str, Any]
    redis_url: str | None
    websocket_url: str | None
    log_format: str
    log_level: str
    db_pool_min: int
    db_pool_max: int
    csrf_trusted_origins: list[str] = field(default_factory=list)
    # Contexts given a database of their own with DATABASE_URL_<CONTEXT>, by alias (= context).
    context_databases: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The contexts this process hosts (CLEAVE_CONTEXTS=identity,messaging); None = all of them.
    contexts: frozenset[str] | None = None
    jwks_url: str | None = None
    default_from_email: str = "Cleave <no-reply@localhost>"
    email_url: str | None = None
    password_reset_url: str = "cleave://password-reset"  # noqa: S105 - a URL, not a secret
    # Whether an account must verify its e-mail address before it starts a conversation or is
    # added to one (issue 16, finding 12). On by default in real mode: a deployment's accounts
    # reach real people, and an unproven address lets anyone claim someone else's. Off by
    # default in embedded mode: it sends mail to the console, and a developer's demo users
    # would otherwise need a link opened from a log before they could chat.
    require_email_verification: bool = False
    email_verification_url: str = "cleave://verify-email"
    trusted_proxies: int = 0
    realtime_auth_seconds: float = 5.0
    presence_grace_seconds: float = 15.0
    access_token_seconds: int = 15 * 60
    # Split mode (cleave.remote): this service's name, its private signing key for service
    # tokens, the public keys of the services allowed to call it, and how long a call may take.
    service_name: str | None = None
    service_key: str | None = None
    service_jwks: str | None = None
    remote_timeout_seconds: float = 5.0
    # The Celery queue of this service's own tasks: services sharing a broker must not take
    # each other's tasks (a worker would not know them).
    task_queue: str = "celery"

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={_masked(f.name, getattr(self, f.name))!r}" for f in fields(self)
        )
        return f"Config({shown})"

    __str__ = __repr__

    def secret_values(self) -> list[str]:
        """Every secret this config holds, for the log filter that masks them wherever they
        appear (cleave.gateway.redaction)."""
        found = [value for name in _SECRET_FIELDS if (value := getattr(self, name))]
        for url in (self.redis_url, self.email_url):
            found += [m["password"] for m in _URL_PASSWORD.finditer(url or "")]
        for database in (self.database, *self.context_databases.values()):
            found += [str(database["PASSWORD"])] if database.get("PASSWORD") else []
        return found

    @property
    def email_settings(self) -> dict[str, Any]:
        """EMAIL_* settings from EMAIL_URL (smtp://user:pass@host:port, smtp+tls://…)."""
        if not self.email_url:
            return {}
        parsed: dict[str, Any] = environ.Env.email_url_config(self.email_url)
        return parsed

    @property
    def embedded(self) -> bool:
        return self.mode is Mode.EMBEDDED

    def hosted(self, available: list[str]) -> list[str]:
        """The app paths of the contexts to install, out of `available` (apps.<context>)."""
        if self.contexts is None:
            return list(available)
        labels = {path.rsplit(".", 1)[1]: path for path in available}
        unknown = sorted(self.contexts - set(labels))
        if unknown:
            raise ImproperlyConfigured(
                f"CLEAVE_CONTEXTS names unknown context(s) {unknown}; known: {sorted(labels)}."
            )
        return [path for label, path in labels.items() if label in self.contexts]

    @staticmethod
    def service_urls(env: Mapping[str, str], labels: list[str]) -> dict[str, str]:
        """Where the services hosting other contexts answer: CLEAVE_<CONTEXT>_URL by context."""
        urls = {label: _http_url(env, f"CLEAVE_{label.upper()}_URL") for label in labels}
        return {label: url.rstrip("/") for label, url in urls.items() if url}


def mask_url_passwords(text: str) -> str:
    """`scheme://user:password@host` → `scheme://user:[redacted]@host`, anywhere in `text`."""
    return _URL_PASSWORD.sub(rf"\g<head>{MASK}", text)


def _masked(name: str, value: Any) -> Any:
    if name in _SECRET_FIELDS:
        return MASK if value else value
    if name not in _URL_FIELDS or not value:
        return value
    if isinstance(value, str):
        return mask_url_passwords(value)
    if name == "context_databases":
        return {alias: _masked("database", db) for alias, db in value.items()}
    return {key: (MASK if key == "PASSWORD" and item else item) for key, item in value.items()}


def load(env: Mapping[str, str]) -> Config:
    """Build a `Config` from an environment mapping; raise ImproperlyConfigured on bad input."""
    mode = _mode(env)
    embedded = mode is Mode.EMBEDDED
    debug = _bool(env, "DEBUG", default=embedded)
    secret_key = env.get("SECRET_KEY", "" if not embedded else _EMBEDDED_SECRET)
    if not embedded:
        # Whatever DEBUG says: DEBUG=true once started real mode on the public embedded key.
        _refuse_insecure_secret(secret_key)
    if not secret_key:
        secret_key = _EMBEDDED_SECRET
    # Any host (the embedded default) only where the server is a developer's own; real mode
    # names its hosts, so no Host header can steer the URLs it builds (cleave.gateway.hosts).
    allowed_hosts = _list(env, "ALLOWED_HOSTS", default=["*"] if embedded and debug else [])
    if not embedded and "*" in allowed_hosts:
        raise ImproperlyConfigured(
            "Refusing to start in real mode with ALLOWED_HOSTS=*: list the explicit host names "
            "this deployment answers to, e.g. ALLOWED_HOSTS=api.example.com (the URLs the API "
            "builds, such as /api/v1/meta's websocket_url, come from an accepted Host)."
        )

    redis_url = env.get("REDIS_URL") or None
    if not embedded and not redis_url:
        raise ImproperlyConfigured(
            "Real mode needs REDIS_URL (cache, channel layer and Celery broker), "
            "e.g. REDIS_URL=redis://127.0.0.1:6379/0."
        )
    return Config(
        mode=mode,
        debug=debug,
        secret_key=secret_key,
        allowed_hosts=allowed_hosts,
        database=_database(env, embedded=embedded),
        redis_url=redis_url,
        websocket_url=env.get("CLEAVE_WEBSOCKET_URL") or None,
        log_format=env.get("LOG_FORMAT", "text" if embedded else "json"),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
        db_pool_min=_int(env, "DB_POOL_MIN", 2),
        db_pool_max=_int(env, "DB_POOL_MAX", 10),
        csrf_trusted_origins=_list(env, "CSRF_TRUSTED_ORIGINS", default=[]),
        contexts=frozenset(_list(env, "CLEAVE_CONTEXTS", default=[])) or None,
        jwks_url=_http_url(env, "CLEAVE_JWKS_URL"),
        default_from_email=env.get("DEFAULT_FROM_EMAIL", "Cleave <no-reply@localhost>"),
        email_url=env.get("EMAIL_URL") or None,
        password_reset_url=env.get("CLEAVE_PASSWORD_RESET_URL", "cleave://password-reset"),
        require_email_verification=_bool(
            env, "CLEAVE_REQUIRE_EMAIL_VERIFICATION", default=not embedded
        ),
        email_verification_url=env.get("CLEAVE_EMAIL_VERIFICATION_URL", "cleave://verify-email"),
        trusted_proxies=_int(env, "CLEAVE_TRUSTED_PROXIES", 0),
        realtime_auth_seconds=float(_int(env, "CLEAVE_REALTIME_AUTH_MS", 5000)) / 1000,
        presence_grace_seconds=float(_int(env, "CLEAVE_PRESENCE_GRACE_MS", 15000)) / 1000,
        access_token_seconds=_access_token_seconds(env),
        service_name=env.get("CLEAVE_SERVICE_NAME") or None,
        service_key=env.get("CLEAVE_SERVICE_KEY") or None,
        service_jwks=env.get("CLEAVE_SERVICE_JWKS") or None,
        remote_timeout_seconds=float(_int(env, "CLEAVE_REMOTE_TIMEOUT_MS", 5000)) / 1000,
        task_queue=env.get("CLEAVE_TASK_QUEUE") or "celery",
        context_databases={
            name.removeprefix("DATABASE_URL_").lower(): _parse_database_url(name, url)
            for name, url in env.items()
            if name.startswith("DATABASE_URL_") and url
        },
    )


def _mode(env: Mapping[str, str]) -> Mode:
    explicit = env.get("CLEAVE_MODE", "").strip().lower()
    if explicit:
        try:
            return Mode(explicit)
        except ValueError:
            raise ImproperlyConfigured(
                f"CLEAVE_MODE must be 'embedded' or 'real', not {explicit!r}."
            ) from None
    return Mode.REAL if env.get("DATABASE_URL") or env.get("REDIS_URL") else Mode.EMBEDDED


def _refuse_insecure_secret(secret_key: str) -> None:
    # The same criteria as Django's security.W009 deploy check, but fatal, with DEBUG on too: a
    # real deployment with a guessable key can have its sessions and signed tokens forged, and
    # its development encryption keys (derived from SECRET_KEY) recomputed.
    problem = None
    if not secret_key:
        problem = "SECRET_KEY is not set"
    elif secret_key.startswith("django-insecure"):
        problem = "SECRET_KEY starts with 'django-insecure'"
    elif len(secret_key) < _MIN_SECRET_LENGTH:
        problem = f"SECRET_KEY is shorter than {_MIN_SECRET_LENGTH} characters"
    elif len(set(secret_key)) < _MIN_SECRET_UNIQUE_CHARS:
        problem = f"SECRET_KEY has fewer than {_MIN_SECRET_UNIQUE_CHARS} distinct characters"
    if problem:
        raise ImproperlyConfigured(
            f"Refusing to start in real mode: {problem}. Set a random SECRET_KEY "
            "of at least 50 characters, e.g. from "
            "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`."
        )


def _database(env: Mapping[str, str], *, embedded: bool) -> dict[str, Any]:
    url = env.get("DATABASE_URL")
    if not url:
        if not embedded:
            raise ImproperlyConfigured(
                "Real mode needs DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/cleave."
            )
        path = Path(env.get("CLEAVE_VAR_DIR", BASE_DIR / "var")) / "cleave.sqlite3"
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}
    return _parse_database_url("DATABASE_URL", url)


def _parse_database_url(name: str, url: str) -> dict[str, Any]:
    try:
        parsed: dict[str, Any] = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises bare exceptions for unknown schemes
        raise ImproperlyConfigured(f"{name} could not be parsed: {exc}") from exc
    if parsed.get("ENGINE") in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
        return parsed
    raise ImproperlyConfigured(
        f"{name} must point at PostgreSQL (postgres://…) or SQLite; got {url.split(':')[0]}."
    )


def _http_url(env: Mapping[str, str], name: str) -> str | None:
    # Fetched with urllib, which would also open file:// and ftp:// URLs: refuse those here.
    url = env.get(name) or None
    if url is not None and not url.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"{name} must be an http(s):// URL, not {url!r}.")
    return url


def _bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0), not {raw!r}.")


def _access_token_seconds(env: Mapping[str, str]) -> int:
    """An access token's life: short, since a stolen one is good until it expires (a revoked
    session is refused sooner). The SDK's tests shorten it to watch refreshes happen."""
    seconds = _int(env, "CLEAVE_ACCESS_TOKEN_SECONDS", 15 * 60)
    if not 1 <= seconds <= 3600:
        raise ImproperlyConfigured("CLEAVE_ACCESS_TOKEN_SECONDS must be between 1 and 3600.")
    return seconds


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}.") from None


def list_from(env: Mapping[str, str], name: str) -> list[str]:
    """A comma-separated variable as a list (empty when unset)."""
    return _list(env, name, default=[])


def _list(env: Mapping[str, str], name: str, *, default: list[str]) -> list[str]:
    raw = env.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]
