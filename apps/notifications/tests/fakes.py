"""Push providers for tests: real Provider implementations that keep what they were sent."""

from __future__ import annotations

from typing import ClassVar

from apps.notifications.providers import Outcome, Push


class RecordingProvider:
    name = "recording"
    sent: ClassVar[list[tuple[str, str, Push]]] = []

    def send(self, *, platform: str, token: str, push: Push) -> Outcome:
        self.sent.append((platform, token, push))
        return Outcome(ok=True, status=200, response='{"name": "projects/x/messages/1"}')


class RefusingProvider(RecordingProvider):
    """Answers as FCM does for a token that no longer exists (404 UNREGISTERED)."""

    name = "refusing"

    def send(self, *, platform: str, token: str, push: Push) -> Outcome:
        self.sent.append((platform, token, push))
        return Outcome(
            ok=False, token_invalid=True, status=404, response='{"error": {"status": "NOT_FOUND"}}'
        )


class UnreachableForSomeProvider(RecordingProvider):
    """Raises for tokens starting with "unreachable" (a client error the provider did not turn
    into an outcome); sends the rest."""

    name = "partly-down"

    def send(self, *, platform: str, token: str, push: Push) -> Outcome:
        if token.startswith("unreachable"):
            raise ConnectionError("connection reset by peer")
        return super().send(platform=platform, token=token, push=push)
