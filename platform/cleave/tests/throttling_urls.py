"""A throwaway API built like the public one, with throttled routes on a clock the tests move."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import path
from ninja import Schema
from ninja.security import APIKeyHeader

from cleave.api import build_api
from cleave.errors import Unauthorized
from cleave.gateway.throttling import Backoff, RateLimit, client_ip
from cleave.urls import urlpatterns as cleave_urlpatterns

# 20.5 s into a minute window: a client throttled now should retry in 39.5 s, i.e. 40.
START = 60.0 * 30_000_000 + 20.5


class ManualClock:
    """A clock that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


clock = ManualClock()


@dataclass(frozen=True)
class Principal:
    user_id: int


class UserHeader(APIKeyHeader):
    """Test-only auth: `X-User: 42` is user 42, as a real token would resolve to."""

    param_name = "X-User"

    def authenticate(self, request: HttpRequest, key: str | None) -> Principal | None:
        return Principal(user_id=int(key)) if key and key.isdigit() else None


def tenant_of(request: HttpRequest) -> str | None:
    tenant = request.headers.get("X-Tenant")
    return f"tenant:{tenant}" if tenant else None


login_backoff = Backoff(
    scope="test-login", free_failures=2, base_seconds=1, max_seconds=8, clock=clock
)

api = build_api(title="throttling test API", urls_namespace="throttling-test")


@api.get("/by-ip", throttle=RateLimit("2/m", scope="test-by-ip", clock=clock))
def by_ip(request: HttpRequest) -> dict[str, bool]:
    return {"ok": True}


@api.get(
    "/by-user",
    auth=UserHeader(),
    throttle=RateLimit("2/m", scope="test-by-user", key="user", clock=clock),
)
def by_user(request: HttpRequest) -> dict[str, bool]:
    return {"ok": True}


@api.get(
    "/by-tenant", throttle=RateLimit("1/m", scope="test-by-tenant", key=tenant_of, clock=clock)
)
def by_tenant(request: HttpRequest) -> dict[str, bool]:
    return {"ok": True}


class LoginIn(Schema):
    email: str
    password: str


@api.post("/login")
def login(request: HttpRequest, payload: LoginIn) -> dict[str, bool]:
    account, ip = f"email:{payload.email.strip().lower()}", f"ip:{client_ip(request)}"
    login_backoff.check(account, ip)
    if payload.password != "right-password":
        login_backoff.failure(account, ip)
        raise Unauthorized()
    login_backoff.success(account)
    return {"ok": True}


urlpatterns = [path("api/throttling/", api.urls), *cleave_urlpatterns]
