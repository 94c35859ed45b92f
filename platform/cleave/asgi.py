"""The ASGI application: WebSockets (Channels) and, for the one-process server, HTTP.

HTTP goes to the WSGI application through `WsgiBridge` (one thread hand-off per request)
rather than Django's ASGI handler, which hands off several times and is ~8× slower here.
"""

from __future__ import annotations

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")

from channels.routing import ProtocolTypeRouter, URLRouter  # after settings
from django.conf import settings

from cleave.realtime.routing import websocket_urlpatterns
from cleave.wsgi import application as wsgi_application  # sets Django up
from cleave.wsgi_bridge import WsgiBridge

# The garbage collector, tuned for thousands of long-lived sockets. With CPython's default
# (a young collection every 700 allocations) each socket's objects survive into the old
# generation within moments, and full collections re-walk all of them again and again: in a
# 5,000-socket reconnect storm the collector took 4.9 of the process's 5.9 CPU seconds
# (bench/storm). Everything imported so far lives as long as the process (`freeze` keeps the
# collector from walking it), and a young collection every CLEAVE_GC_YOUNG_THRESHOLD
# allocations lets short-lived garbage die young instead of being promoted.
gc.freeze()
gc.set_threshold(settings.CLEAVE_GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])

application = ProtocolTypeRouter(
    {
        "http": WsgiBridge(wsgi_application, max_body_bytes=settings.CLEAVE_MAX_BODY_BYTES),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
