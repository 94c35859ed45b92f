"""Local stand-ins for FCM (HTTP v1 + OAuth token endpoint) and APNs (HTTP/2), checking requests
the way the real services do: signed auth, required headers, payload shape, error replies.

Served by hypercorn (HTTP/1.1 and HTTP/2 cleartext) in the provider tests. Keys and settings come
from the environment the test sets: FAKE_FCM_PUBLIC_KEY, FAKE_APNS_PUBLIC_KEY (PEM files),
FAKE_APNS_KEY_ID, FAKE_APNS_TEAM_ID, FAKE_APNS_TOPIC, FAKE_TOKEN_URI, FAKE_FCM_PROJECT.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DEAD_TOKENS = {"dead-token"}
issued: set[str] = set()
received: list[dict[str, Any]] = []


def _env_key(name: str) -> str:
    return Path(os.environ[name]).read_text()


async def token(request: Request) -> Response:
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    try:
        claims = jwt.decode(
            str(form.get("assertion")),
            _env_key("FAKE_FCM_PUBLIC_KEY"),
            algorithms=["RS256"],
            audience=os.environ["FAKE_TOKEN_URI"],
        )
    except jwt.PyJWTError as error:
        return JSONResponse(
            {"error": "invalid_grant", "error_description": str(error)}, status_code=400
        )
    if claims.get("scope") != "https://www.googleapis.com/auth/firebase.messaging":
        return JSONResponse({"error": "invalid_scope"}, status_code=400)
    access = secrets.token_hex(8)
    issued.add(access)
    return JSONResponse({"access_token": access, "expires_in": 3599, "token_type": "Bearer"})


async def fcm_send(request: Request) -> Response:
    raw = await request.body()
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in issued:
        return JSONResponse({"error": {"code": 401, "status": "UNAUTHENTICATED"}}, status_code=401)
    if request.path_params["project"] != os.environ["FAKE_FCM_PROJECT"]:
        return JSONResponse(
            {"error": {"code": 403, "status": "PERMISSION_DENIED"}}, status_code=403
        )
    body = json.loads(raw)
    message = body.get("message", {})
    if not message.get("token") or "title" not in message.get("notification", {}):
        return JSONResponse({"error": {"code": 400, "status": "INVALID_ARGUMENT"}}, status_code=400)
    received.append({"service": "fcm", "token": message["token"], "body": body})
    if message["token"] in DEAD_TOKENS:
        error = {
            "code": 404,
            "status": "NOT_FOUND",
            "message": "Requested entity was not found.",
            "details": [
                {
                    "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                    "errorCode": "UNREGISTERED",
                }
            ],
        }
        return JSONResponse({"error": error}, status_code=404)
    return JSONResponse(
        {"name": f"projects/{os.environ['FAKE_FCM_PROJECT']}/messages/{uuid.uuid4().hex}"}
    )


async def apns_send(request: Request) -> Response:
    raw = await request.body()  # read it all before answering, as a server does
    if request.scope.get("http_version") != "2":
        return JSONResponse({"reason": "BadRequest"}, status_code=400)  # APNs speaks only HTTP/2
    auth = request.headers.get("authorization", "")
    try:
        header = jwt.get_unverified_header(auth.removeprefix("bearer "))
        claims = jwt.decode(
            auth.removeprefix("bearer "), _env_key("FAKE_APNS_PUBLIC_KEY"), algorithms=["ES256"]
        )
    except jwt.PyJWTError:
        return JSONResponse({"reason": "InvalidProviderToken"}, status_code=403)
    if (
        header.get("kid") != os.environ["FAKE_APNS_KEY_ID"]
        or claims.get("iss") != os.environ["FAKE_APNS_TEAM_ID"]
    ):
        return JSONResponse({"reason": "InvalidProviderToken"}, status_code=403)
    if request.headers.get("apns-topic") != os.environ["FAKE_APNS_TOPIC"]:
        return JSONResponse({"reason": "TopicDisallowed"}, status_code=400)
    if request.headers.get("apns-push-type") != "alert":
        return JSONResponse({"reason": "InvalidPushType"}, status_code=400)
    body = json.loads(raw)
    if "alert" not in body.get("aps", {}):
        return JSONResponse({"reason": "PayloadEmpty"}, status_code=400)
    device_token = request.path_params["token"]
    received.append(
        {
            "service": "apns",
            "token": device_token,
            "body": body,
            "topic": request.headers["apns-topic"],
        }
    )
    if device_token in DEAD_TOKENS:
        return JSONResponse({"reason": "Unregistered", "timestamp": 1700000000000}, status_code=410)
    return Response(status_code=200, headers={"apns-id": str(uuid.uuid4())})


async def requests_seen(request: Request) -> Response:
    return JSONResponse(received)


app = Starlette(
    routes=[
        Route("/token", token, methods=["POST"]),
        Route("/v1/projects/{project}/messages:send", fcm_send, methods=["POST"]),
        Route("/3/device/{token}", apns_send, methods=["POST"]),
        Route("/_received", requests_seen),
    ]
)
