"""The reference: a bare Starlette hello-world — what Python can serve on this machine."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/healthz", hello), Route("/api/v1/meta", hello)])
