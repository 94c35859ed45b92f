"""The production provider: APNs for iOS devices, FCM for android and web, from the environment."""

from __future__ import annotations

import os
from functools import cached_property

from apps.notifications.providers import Outcome, Push
from apps.notifications.providers.apns import ApnsProvider
from apps.notifications.providers.fcm import FcmProvider


class NativeProvider:
    """Configured by CLEAVE_FCM_CREDENTIALS (a service-account JSON file), CLEAVE_APNS_KEY_PATH,
    CLEAVE_APNS_KEY_ID, CLEAVE_APNS_TEAM_ID, CLEAVE_APNS_TOPIC, and optionally
    CLEAVE_FCM_BASE_URL / CLEAVE_APNS_BASE_URL (tests point them at local fakes)."""

    name = "native"

    @cached_property
    def fcm(self) -> FcmProvider:
        return FcmProvider(
            credentials_path=os.environ["CLEAVE_FCM_CREDENTIALS"],
            base_url=os.environ.get("CLEAVE_FCM_BASE_URL", "https://fcm.googleapis.com"),
        )

    @cached_property
    def apns(self) -> ApnsProvider:
        return ApnsProvider(
            key_path=os.environ["CLEAVE_APNS_KEY_PATH"],
            key_id=os.environ["CLEAVE_APNS_KEY_ID"],
            team_id=os.environ["CLEAVE_APNS_TEAM_ID"],
            topic=os.environ["CLEAVE_APNS_TOPIC"],
            base_url=os.environ.get("CLEAVE_APNS_BASE_URL", "https://api.push.apple.com"),
        )

    def send(self, *, platform: str, token: str, push: Push) -> Outcome:
        provider = self.apns if platform == "ios" else self.fcm
        return provider.send(platform=platform, token=token, push=push)
