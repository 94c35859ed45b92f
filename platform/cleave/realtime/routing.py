from __future__ import annotations

from django.urls import path

from cleave.realtime.consumers import GatewayConsumer

websocket_urlpatterns = [path("ws/v1", GatewayConsumer.as_asgi())]
