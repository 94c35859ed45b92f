"""A throwaway API built like the public one, with endpoints that fail on purpose."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import path
from ninja import Schema

from cleave.api import build_api
from cleave.errors import Conflict
from cleave.urls import urlpatterns as cleave_urlpatterns

api = build_api(title="envelope test API", urls_namespace="envelope-test")


class EchoIn(Schema):
    name: str
    count: int


@api.post("/echo")
def echo(request: HttpRequest, payload: EchoIn) -> dict[str, object]:
    return payload.dict()


@api.get("/boom")
def boom(request: HttpRequest) -> dict[str, object]:
    raise RuntimeError("secret internals must not leak")


@api.get("/conflict")
def conflict(request: HttpRequest) -> dict[str, object]:
    raise Conflict(details={"resource": "thing"})


urlpatterns = [path("api/test/", api.urls), *cleave_urlpatterns]
