"""What each context says about itself, and where the kernel and the tools read it.

A context is a package under `apps/` whose `context.py` holds `CONTEXT = Context(...)`: its
label, whether it is the edge (the user model, the keys every service verifies tokens with),
whether its streams need the realtime process, the URL prefixes it serves, the contracts it
provides besides its own, its encrypted fields, the roles it defines and its own settings.
`context.py` imports nothing but this module, so the settings read it before Django's app
registry exists (the installed list, `AUTH_USER_MODEL`, the password hasher, a context's own
settings); the kernel, `make split`, `manage.py extract` and the gateway iterate over the
declarations and never name a context.

The installed contexts are the packages of `apps/` that have a `context.py`, found wherever
`apps` is on the path (it is a pkgutil namespace, so a context can live outside this
repository, as the fourth-context test's does); `CLEAVE_CONTEXTS` narrows them per process.
Kept free of Django: the settings module imports it.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any

# The package whose sub-packages are contexts, and the one holding what each publishes.
CONTEXT_PACKAGE = "apps"
CONTRACT_PACKAGE = "contracts"
# The module of a context package that holds its declaration, and the name inside it.
DECLARATION_MODULE = "context"
DECLARATION_NAME = "CONTEXT"
# Where the edge serves the public keys of its access tokens, unless it declares otherwise.
JWKS_PATH = "/.well-known/jwks.json"

ContextSettings = Callable[[Mapping[str, str]], Mapping[str, Any]]


class DeclarationError(Exception):
    """A context's declaration is missing or contradicts another's."""


@dataclass(frozen=True)
class Edge:
    """What only the edge context has: the accounts, and the keys that sign their tokens.

    Kernel routes (flags, ops, the admin's sign-in) are served by the service hosting it; a
    process that does not host it verifies tokens with the JWKS fetched from `jwks_path` there.
    """

    user_model: str  # "app_label.Model", Django's AUTH_USER_MODEL where the edge is hosted
    password_hasher: str | None = None  # the first of PASSWORD_HASHERS where it is hosted
    jwks_path: str = JWKS_PATH


@dataclass(frozen=True)
class Realtime:
    """Streams a context pushes to and frames it handles, served by the realtime process.

    Who may read a stream is the context's answer: the `readable` (and `replay`) of each family
    it registers with `cleave.realtime.register_streams` from its `ready()`; the kernel's
    membership gate asks it. A realtime process that does not host the context asks the
    service that does, over HTTP (`cleave.realtime.remote`): these prefixes and frame types are
    what it routes there, without loading the context's code.
    """

    stream_families: tuple[str, ...]  # stream name prefixes ("conv" for "conv:42")
    frame_types: tuple[str, ...] = ()  # client frames it handles ("message.send")


@dataclass(frozen=True)
class GatewayCache:
    """Anonymous GET answers the split topology's gateway may keep for a few seconds.

    Paths under each of `prefixes` (each under one of the context's `url_prefixes`) are cached
    by the gateway (nginx `proxy_cache`, keyed by the request URI) for `seconds`, unless the
    request carries an Authorization header or a cookie (never served from the cache, never
    stored). The service's own Cache-Control still wins: `private` or `no-store` answers are
    never kept, a `max-age` sets how long. Only for answers that are the same for everyone.
    """

    prefixes: tuple[str, ...]
    seconds: int

    def __post_init__(self) -> None:
        if self.seconds < 1:
            raise DeclarationError(f"a gateway cache keeps answers >= 1 s, not {self.seconds}")
        for prefix in self.prefixes:
            # A `^~` location of its own: a whole path segment, so it cannot catch a sibling.
            if not (prefix.startswith("/") and prefix.endswith("/")):
                raise DeclarationError(f"a gateway cache prefix is /…/, not {prefix!r}")


@dataclass(frozen=True)
class Context:
    """One context's declaration (see the module docstring)."""

    label: str  # the Django app label, the contract name, the service name
    app: str  # the app's dotted path ("apps.billing")
    edge: Edge | None = None
    realtime: Realtime | None = None
    # The public paths it serves (`/api/v1/invoices`, `/.well-known/…`); checked against the
    # routes it really serves (cleave.E020), so the gateway's routing follows this list.
    url_prefixes: tuple[str, ...] = ()
    # Contracts it provides besides its own `label` (the kernel's `sessions`, say): other
    # services call them at CLEAVE_<CONTRACT>_URL, which the tools point at its service.
    provides: tuple[str, ...] = ()
    # `Model.field` of every EncryptedTextField it holds (cleave.crypto); checked (cleave.E021).
    encrypted_fields: tuple[str, ...] = ()
    # Roles it defines (groups on the edge, carried in tokens: `require_role("auditor")`).
    roles: tuple[str, ...] = ()
    # Its own settings, from the environment (`CLEAVE_BILLING_RETRY=…`), set where it is hosted.
    settings: ContextSettings | None = None
    # Public, anonymous GET answers the split topology's gateway may cache (cleave_deploy.nginx).
    gateway_cache: GatewayCache | None = None

    @property
    def events_queue(self) -> str:
        """The Celery queue its subscribers consume: every publisher routes there."""
        return f"events.{self.label}"

    @property
    def contracts(self) -> tuple[str, ...]:
        """Every contract name whose calls its service answers."""
        return (self.label, *self.provides)

    def settings_from(self, env: Mapping[str, str]) -> dict[str, Any]:
        return dict(self.settings(env)) if self.settings else {}


@functools.cache
def load(app: str) -> Context:
    """The declaration in `<app>.context`; DeclarationError when there is none."""
    module_name = f"{app}.{DECLARATION_MODULE}"
    if find_spec(module_name) is None:
        raise DeclarationError(f"{app} has no {DECLARATION_MODULE}.py declaring {DECLARATION_NAME}")
    declaration = getattr(importlib.import_module(module_name), DECLARATION_NAME, None)
    if not isinstance(declaration, Context):
        raise DeclarationError(f"{module_name}.{DECLARATION_NAME} is not a cleave.contexts.Context")
    if declaration.app != app:
        raise DeclarationError(f"{module_name} declares app {declaration.app!r}, not {app!r}")
    return declaration


def discover(package: str = CONTEXT_PACKAGE) -> list[str]:
    """The app paths of the context packages under `package` (those with a declaration)."""
    root = importlib.import_module(package)
    names = sorted({info.name for info in pkgutil.iter_modules(root.__path__) if info.ispkg})
    return [
        f"{package}.{name}"
        for name in names
        if find_spec(f"{package}.{name}.{DECLARATION_MODULE}") is not None
    ]


def contract_names(package: str = CONTRACT_PACKAGE) -> list[str]:
    """The contracts present in this code base (`contracts/<name>/`), declared contexts or not:
    an extracted service carries the contracts it calls without the contexts behind them."""
    root = importlib.import_module(package)
    return sorted(info.name for info in pkgutil.iter_modules(root.__path__) if info.ispkg)


def declared(extra_apps: Iterable[str] = ()) -> list[Context]:
    """Every context of this code base (discovered, plus `extra_apps`), checked together."""
    found = [load(app) for app in [*discover(), *extra_apps]]
    validate(found)
    return found


def validate(contexts: Sequence[Context]) -> None:
    """Labels and contracts are unique, at most one context is the edge, and a context caches at
    the gateway only paths it serves."""
    labels = [context.label for context in contexts]
    if len(set(labels)) != len(labels):
        raise DeclarationError(f"two contexts share a label: {sorted(labels)}")
    provided = [name for context in contexts for name in context.contracts]
    if len(set(provided)) != len(provided):
        raise DeclarationError(f"a contract is provided by two contexts: {sorted(provided)}")
    for context in contexts:
        cached = context.gateway_cache.prefixes if context.gateway_cache else ()
        for prefix in cached:
            if not any(prefix.startswith(own.rstrip("/") + "/") for own in context.url_prefixes):
                raise DeclarationError(
                    f"{context.label} caches {prefix} at the gateway but does not serve it"
                )
    edges = [context.label for context in contexts if context.edge is not None]
    if len(edges) > 1:
        raise DeclarationError(f"only one context may be the edge, not {edges}")


def edge_of(contexts: Iterable[Context]) -> Context | None:
    return next((context for context in contexts if context.edge is not None), None)


# --- At run time: the declarations of what this process knows and hosts ------------------------
def all_contexts() -> list[Context]:
    """Every context the deployment has (settings.CLEAVE_ALL_CONTEXTS), hosted here or not."""
    from django.conf import settings

    return [load(app) for app in settings.CLEAVE_ALL_CONTEXTS]


def declared_roles() -> frozenset[str]:
    """The roles the deployment's contexts define (`Context.roles`: "scanner", "auditor"), on
    top of the kernel's (cleave.auth.principal.ROLES): a group of that name grants it."""
    return frozenset(role for context in all_contexts() for role in context.roles)


def installed() -> list[Context]:
    """The contexts this process hosts (settings.CLEAVE_CONTEXTS)."""
    from django.conf import settings

    return [load(app) for app in settings.CLEAVE_CONTEXTS]


def get(label: str) -> Context:
    for context in all_contexts():
        if context.label == label:
            return context
    raise LookupError(f"no context {label!r}")


def edge() -> Context:
    """The edge context of the deployment (hosted here or not)."""
    found = edge_of(all_contexts())
    if found is None:
        raise DeclarationError("no context declares itself the edge (Context(edge=Edge(...)))")
    return found


def realtime_contexts() -> list[Context]:
    """The contexts whose streams and frames the realtime process serves."""
    return [context for context in all_contexts() if context.realtime is not None]
