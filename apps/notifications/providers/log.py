"""The `log` provider: sends nothing, logs what it would send (embedded mode's default)."""

from __future__ import annotations

import logging

from apps.notifications.providers import Outcome, Push
from cleave.crypto import mask

logger = logging.getLogger(__name__)


class LogProvider:
    name = "log"

    def send(self, *, platform: str, token: str, push: Push) -> Outcome:
        # The token is a credential: its tail tells devices apart in the log, and no more.
        logger.info("push to %s %s: %s — %s", platform, mask(token), push.title, push.body)
        return Outcome(ok=True, status=200, response="logged")
