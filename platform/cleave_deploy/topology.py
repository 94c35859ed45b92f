"""The split topology: which service hosts which contexts, on which ports and databases, with
which environment and keys — the description `make split` starts (cleave_deploy.split) and
`manage.py extract` writes for a real cluster. Pure data and files under var/split/; no process
is started here.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cleave.contexts import JWKS_PATH, Context, declared, edge_of
from cleave.remote.service_tokens import generate_key

ROOT = Path(__file__).resolve().parents[2]
# Which service hosts which contexts: "split" gives each its own; "monolith" is the same shape
# with one service for all of them (same nginx, realtime and workers), so the two can be
# measured against each other.
LAYOUTS = ("split", "monolith")
MONOLITH = "monolith"


class SplitError(Exception):
    pass


@dataclass(frozen=True)
class Topology:
    folder: Path
    gateway_port: int
    gateway_tls_port: int
    base_port: int
    database_url: str  # server URL without a database name
    database_prefix: str  # each service's database is <prefix>_<service>
    redis_url: str
    layout: str = "split"
    # The contexts, in order; the edge (kernel routes, keys, flags); the one whose code the
    # realtime process loads (it serves every context's streams: the others' are asked of
    # their services, cleave.realtime.remote). From the declarations (`from_env`), or given.
    contexts: tuple[str, ...] = ()
    edge: str = ""
    realtime_contexts: tuple[str, ...] = ()
    # Contracts a context provides besides its own, by context (CLEAVE_<CONTRACT>_URL).
    provides: tuple[tuple[str, tuple[str, ...]], ...] = ()
    jwks_path: str = JWKS_PATH
    # Settings every service gets on top of its own (SPLIT_SERVICE_ENV="K=V,K2=V2"): what a
    # benchmark raises (a send limit, say) without editing code. Only CLEAVE_* names.
    service_settings: tuple[tuple[str, str], ...] = ()
    # Each service seeds its contexts' demo data (`seed_demo --data-only`, idempotent) after
    # migrating, as `make run` does: a rehearsal has something to browse and buy. SPLIT_DEMO_DATA=0
    # starts empty.
    demo_data: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str], contexts: list[Context] | None = None) -> Topology:
        if contexts is None:
            # What the services' own settings install: the contexts found under apps/, narrowed
            # by CLEAVE_CONTEXTS (never the test settings' extra example contexts).
            wanted = {c.strip() for c in env.get("CLEAVE_CONTEXTS", "").split(",") if c.strip()}
            contexts = [c for c in declared() if not wanted or c.label in wanted]
        edge = edge_of(contexts)
        if edge is None or edge.edge is None:
            raise SplitError("no installed context declares itself the edge")
        return cls(
            folder=ROOT / "var" / "split",
            gateway_port=int(env.get("GATEWAY_PORT", "8080")),
            gateway_tls_port=int(env.get("GATEWAY_TLS_PORT", "8443")),
            base_port=int(env.get("SPLIT_BASE_PORT", "8100")),
            database_url=env.get("SPLIT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432"),
            database_prefix=env.get("SPLIT_DATABASE_PREFIX", "cleave_split"),
            redis_url=env.get("SPLIT_REDIS_URL", "redis://127.0.0.1:6379/5"),
            layout=_layout(env.get("SPLIT_LAYOUT", "split")),
            service_settings=_service_settings(env.get("SPLIT_SERVICE_ENV", "")),
            demo_data=env.get("SPLIT_DEMO_DATA", "1") != "0",
            contexts=tuple(context.label for context in contexts),
            edge=edge.label,
            realtime_contexts=(_realtime_home(env, contexts, edge),),
            provides=tuple((c.label, c.provides) for c in contexts if c.provides),
            jwks_path=edge.edge.jwks_path,
        )

    @property
    def web_services(self) -> dict[str, tuple[str, ...]]:
        """Every service but realtime, and the contexts it hosts."""
        if self.layout == MONOLITH:
            return {MONOLITH: self.contexts}
        return {context: (context,) for context in self.contexts}

    @property
    def services(self) -> dict[str, tuple[str, ...]]:
        """Every service and the contexts it hosts, realtime last."""
        realtime = self.contexts if self.layout == MONOLITH else self.realtime_contexts
        return {**self.web_services, "realtime": realtime}

    def host_of(self, context: str) -> str:
        return next(name for name, hosted in self.web_services.items() if context in hosted)

    def port(self, service: str) -> int:
        return self.base_port + 1 + list(self.services).index(service)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port(service)}"

    def database(self, service: str) -> str:
        # realtime shares the database of the service hosting its contexts.
        owner = self.host_of(self.services[service][0])
        return f"{self.database_url.rstrip('/')}/{self.database_prefix}_{owner}"

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"


def _realtime_home(env: Mapping[str, str], contexts: list[Context], edge: Context) -> str:
    """The one context the realtime service hosts (loads, and shares the database of): it
    serves every context's streams and frames, but only one database can be its own, and the
    others are asked over HTTP. SPLIT_REALTIME_CONTEXT names it; by default the first context
    with streams (its frames then stay in process), else the edge — sockets always need a home
    (the users' own streams, flags)."""
    chosen = env.get("SPLIT_REALTIME_CONTEXT", "").strip()
    labels = [context.label for context in contexts]
    if chosen:
        if chosen not in labels:
            raise SplitError(f"SPLIT_REALTIME_CONTEXT={chosen!r} is none of {labels}")
        return chosen
    streaming = [context.label for context in contexts if context.realtime is not None]
    return streaming[0] if streaming else edge.label


def _layout(name: str) -> str:
    if name not in LAYOUTS:
        raise SplitError(f"SPLIT_LAYOUT must be one of {sorted(LAYOUTS)}, not {name!r}")
    return name


def _service_settings(raw: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, equals, value = item.partition("=")
        if not equals or not name.startswith("CLEAVE_") or not name.replace("_", "").isalnum():
            raise SplitError(f"SPLIT_SERVICE_ENV takes CLEAVE_NAME=value pairs, not {item!r}")
        pairs.append((name, value))
    return tuple(pairs)


def service_env(topology: Topology, service: str, keys: dict[str, str]) -> dict[str, str]:
    """The environment of one service: what `manage.py extract` writes for a real cluster."""
    hosted = topology.services[service]
    owner = topology.host_of(hosted[0])
    env = {
        "CLEAVE_MODE": "real",
        "DEBUG": "false",
        "SECRET_KEY": keys["secret_key"],
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": topology.database(service),
        "REDIS_URL": topology.redis_url,
        "CLEAVE_CONTEXTS": ",".join(hosted),
        "CLEAVE_SERVICE_NAME": service,
        "CLEAVE_SERVICE_KEY": keys[service],
        "CLEAVE_SERVICE_JWKS": str(topology.folder / "service-jwks.json"),
        "CLEAVE_TASK_QUEUE": f"celery.{owner}",
        # The service's Celery worker serves /metrics here (web and realtime on their own port).
        "CLEAVE_METRICS_PORT": str(topology.port(service) + 10),
        # Encryption at rest: keys of the database's owner (realtime shares its contexts').
        "CLEAVE_ENCRYPTION_KEYS": f"split1:{keys[f'{owner}.encryption']}",
        "CLEAVE_HASH_KEY": keys[f"{owner}.hash"],
        "CLEAVE_TRUSTED_PROXIES": "1",  # nginx sets X-Forwarded-For
        "CLEAVE_ENVIRONMENT": "split",
        "LOG_FORMAT": "text",
    }
    if service == "realtime":
        # Its database's backlog is for the service owning that database to report.
        env["CLEAVE_METRICS_EVENT_BUS"] = "false"
    provides = dict(topology.provides)
    for context in topology.contexts:
        if context not in hosted:
            url = topology.url(topology.host_of(context))
            for contract in (context, *provides.get(context, ())):
                env[f"CLEAVE_{contract.upper()}_URL"] = url
    if topology.edge not in hosted:
        edge = topology.url(topology.host_of(topology.edge))
        env["CLEAVE_JWKS_URL"] = f"{edge}{topology.jwks_path}"
        env["CLEAVE_FLAGS_URL"] = edge  # flags live with the edge service
        # Staff sign in at the edge's admin; this service's, at /admin/<service>/, trusts it.
        env["CLEAVE_ADMIN_EDGE"] = topology.host_of(topology.edge)
    # Never over what the topology itself decides (databases, keys, service URLs).
    env.update((name, value) for name, value in topology.service_settings if name not in env)
    return env


def service_keys(topology: Topology) -> tuple[dict[str, str], bool]:
    """Service keys, the JWKS every service trusts, and a SECRET_KEY: made once, then kept."""
    path = topology.folder / "keys.json"
    if path.exists():
        loaded: dict[str, str] = json.loads(path.read_text())
        # Written by this version, for these contexts (a new context needs its keys too).
        if f"{MONOLITH}.hash" in loaded and all(c in loaded for c in topology.contexts):
            return loaded, False
    keys, jwks = {"secret_key": secrets.token_urlsafe(64)}, []
    for service in (*topology.contexts, MONOLITH, "realtime"):
        keys[service], jwk = generate_key(service)
        jwks.append(jwk)
        keys[f"{service}.encryption"] = secrets.token_urlsafe(32)  # 32 random bytes, base64url
        keys[f"{service}.hash"] = secrets.token_urlsafe(32)
    (topology.folder / "service-jwks.json").write_text(json.dumps({"keys": jwks}, indent=2))
    path.write_text(json.dumps(keys))
    path.chmod(0o600)
    return keys, True
