"""The `log` provider: sends nothing, logs what it would send (embedded mode's default)."""

from __future__ import annotations

import logging

from apps.notifications.providers import Outcome, Push

logger = logging.getLogger(__name__)


class LogProvider:
    name = "log"

    def send(self, *, platform: str, token: str, push: Push) -> Outcome:
        logger.info("push to %s %s…: %s — %s", platform, token[:8], push.title, push.body)
        return Outcome(ok=True, status=200, response="logged")
