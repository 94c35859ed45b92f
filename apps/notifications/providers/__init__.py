"""Push providers. `log` (the embedded default) records what would be sent; FCM and APNs are
configured by environment (CLEAVE_PUSH_PROVIDER)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Push:
    title: str
    body: str
    data: dict[str, str]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    token_invalid: bool = False  # the provider says this token will never work again
    status: int | None = None
    response: str = ""


class Provider(Protocol):
    name: str

    def send(self, *, platform: str, token: str, push: Push) -> Outcome: ...


def provider_for(name: str) -> Provider:
    """`log`, or the dotted path of a Provider class (how tests plug in a fake service)."""
    from django.utils.module_loading import import_string

    from apps.notifications.providers.log import LogProvider

    if name == "log":
        return LogProvider()
    if name == "native":
        return _native()
    if "." in name:
        provider: Provider = import_string(name)()
        return provider
    raise ValueError(f"unknown push provider {name!r} (known: log, native, or a class path)")


_native_provider: Provider | None = None


def _native() -> Provider:
    # One per process: it keeps HTTP connections and auth tokens warm.
    global _native_provider  # a process-wide client, built on first use
    if _native_provider is None:
        from apps.notifications.providers.native import NativeProvider

        _native_provider = NativeProvider()
    return _native_provider
