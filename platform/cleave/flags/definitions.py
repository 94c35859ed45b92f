"""Flag definitions, held in this process and refreshed only when some flag changed.

A change bumps a version number in the shared cache (Redis in real mode) and pushes
`flags.changed` to every socket; each process compares its version with the cache at most once
every `RECHECK_SECONDS`, and reloads all flags in one query when it moved. So there is no
database query per evaluation in steady state, and a change is seen everywhere within a second.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache

VERSION_KEY = "cleave:flags:version"
RECHECK_SECONDS = 1.0
KILL_PREFIX = "kill:"
PLATFORMS = ("android", "ios", "web")  # what `platforms` may name (the apps' own platforms)


@dataclass(frozen=True)
class FlagDefinition:
    name: str
    everyone: bool | None
    percent: int | None
    killed: bool
    client_visible: bool
    platforms: frozenset[str] = field(default_factory=frozenset)
    min_app_version: str = ""
    max_app_version: str = ""
    user_ids: frozenset[int] = field(default_factory=frozenset)
    roles: frozenset[str] = field(default_factory=frozenset)
    environments: frozenset[str] = field(default_factory=frozenset)
    variants: tuple[dict[str, Any], ...] = ()


class _Definitions:
    def __init__(self) -> None:
        self._flags: dict[str, FlagDefinition] = {}
        self._version: int | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def get(self) -> dict[str, FlagDefinition]:
        now = time.monotonic()
        if now - self._checked >= RECHECK_SECONDS:
            with self._lock:
                current = current_version()
                if current != self._version:
                    loaded = _load()
                    if loaded is not None:
                        self._flags, self._version = loaded, current
                self._checked = now
        return self._flags

    def forget(self) -> None:
        with self._lock:
            self._version, self._checked = None, 0.0


_definitions = _Definitions()


def definitions() -> dict[str, FlagDefinition]:
    return _definitions.get()


def forget_definitions() -> None:
    _definitions.forget()


def current_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, 1, timeout=None)
        version = cache.get(VERSION_KEY) or 1
    return int(version)


def bump_version() -> int:
    """Announce a change: every process reloads within a second. Call after commit."""
    current_version()
    version = int(cache.incr(VERSION_KEY))
    _definitions.forget()
    return version


def _load() -> dict[str, FlagDefinition] | None:
    """The definitions from the flag tables here, or from the flags home; None when the home
    cannot answer (the last definitions stay in use, and the next check tries again)."""
    from django.conf import settings

    if settings.CLEAVE_FLAGS_HOME:
        return load_local()
    from cleave.flags.provider import load_remote

    return load_remote()


def load_local() -> dict[str, FlagDefinition]:
    from waffle.models import Switch

    from cleave.flags.models import Flag

    killed = {
        name.removeprefix(KILL_PREFIX)
        for name in Switch.objects.filter(name__startswith=KILL_PREFIX, active=True).values_list(
            "name", flat=True
        )
    }
    return {
        flag.name: FlagDefinition(
            name=flag.name,
            everyone=flag.everyone,
            percent=int(flag.percent) if flag.percent is not None else None,
            killed=flag.name in killed,
            client_visible=flag.client_visible,
            platforms=frozenset(flag.platforms),
            min_app_version=flag.min_app_version,
            max_app_version=flag.max_app_version,
            user_ids=frozenset(int(u) for u in flag.user_ids),
            roles=frozenset(flag.roles),
            environments=frozenset(flag.environments),
            variants=tuple(flag.variants),
        )
        for flag in Flag.objects.all()
    }
