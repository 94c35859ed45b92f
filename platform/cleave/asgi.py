"""The ASGI application: WebSockets (Channels) and, for the one-process server, HTTP.

HTTP goes to the WSGI application through `WsgiBridge` (one thread hand-off per request)
rather than Django's ASGI handler, which hands off several times and is ~8× slower here.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402 - after settings
from django.conf import settings  # noqa: E402

from cleave.realtime.routing import websocket_urlpatterns  # noqa: E402
from cleave.wsgi import application as wsgi_application  # noqa: E402 - sets Django up
from cleave.wsgi_bridge import WsgiBridge  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": WsgiBridge(wsgi_application, max_body_bytes=settings.CLEAVE_MAX_BODY_BYTES),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
