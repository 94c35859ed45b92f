"""Run the fake FCM and APNs services (`fake_push_services`) on a free port with fresh keys, and
say how to point Cleave's native provider at them: the provider tests and the fault tests
(`tests/faults/test_push_once.py`) share it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cleave.testing.processes import BIN, free_port
from cleave.testing.servers import running_server

APNS_KEY_ID = "ABC123DEFG"
APNS_TEAM_ID = "TEAM123456"
APNS_TOPIC = "com.example.cleave"
FCM_PROJECT = "cleave-test"


def pem_pair(private: Any) -> tuple[str, str]:
    """(private PKCS#8 PEM, public SubjectPublicKeyInfo PEM) of a cryptography private key."""
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


@dataclass(frozen=True)
class FakePushServices:
    base: str
    folder: Path

    @property
    def provider_env(self) -> dict[str, str]:
        """The environment that points Cleave's `native` provider at these fakes."""
        return {
            "CLEAVE_PUSH_PROVIDER": "native",
            "CLEAVE_FCM_CREDENTIALS": str(self.folder / "service-account.json"),
            "CLEAVE_FCM_BASE_URL": self.base,
            "CLEAVE_APNS_KEY_PATH": str(self.folder / "AuthKey.p8"),
            "CLEAVE_APNS_KEY_ID": APNS_KEY_ID,
            "CLEAVE_APNS_TEAM_ID": APNS_TEAM_ID,
            "CLEAVE_APNS_TOPIC": APNS_TOPIC,
            "CLEAVE_APNS_BASE_URL": self.base,
        }

    def received(self) -> list[dict[str, Any]]:
        """Every push the fakes accepted for sending (FCM and APNs), in arrival order."""
        with urllib.request.urlopen(f"{self.base}/_received", timeout=5) as response:  # noqa: S310 - loopback
            return json.loads(response.read())


def _write_keys(folder: Path, base: str) -> dict[str, str]:
    """Fresh FCM (RSA service account) and APNs (EC P-256) keys; the fakes' environment."""
    fcm_private, fcm_public = pem_pair(
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    apns_private, apns_public = pem_pair(ec.generate_private_key(ec.SECP256R1()))
    (folder / "fcm.pub").write_text(fcm_public)
    (folder / "apns.pub").write_text(apns_public)
    (folder / "AuthKey.p8").write_text(apns_private)
    credentials = {
        "type": "service_account",
        "project_id": FCM_PROJECT,
        "private_key_id": "k1",
        "private_key": fcm_private,
        "client_email": "push@cleave-test.iam.gserviceaccount.com",
        "token_uri": f"{base}/token",
    }
    (folder / "service-account.json").write_text(json.dumps(credentials))
    return {
        "FAKE_FCM_PUBLIC_KEY": str(folder / "fcm.pub"),
        "FAKE_APNS_PUBLIC_KEY": str(folder / "apns.pub"),
        "FAKE_APNS_KEY_ID": APNS_KEY_ID,
        "FAKE_APNS_TEAM_ID": APNS_TEAM_ID,
        "FAKE_APNS_TOPIC": APNS_TOPIC,
        "FAKE_TOKEN_URI": f"{base}/token",
        "FAKE_FCM_PROJECT": FCM_PROJECT,
    }


@contextmanager
def running_fake_push_services(folder: Path) -> Iterator[FakePushServices]:
    """The fakes served by hypercorn (HTTP/1.1 for FCM, HTTP/2 cleartext for APNs) until exit;
    their keys and the provider's credentials are written to `folder`."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _write_keys(folder, base)
    command = [
        str(BIN / "hypercorn"),
        "apps.notifications.tests.fake_push_services:app",
        "--bind",
        f"127.0.0.1:{port}",
    ]
    with running_server(command, port=port, env=env, ready_path="/_received"):
        yield FakePushServices(base=base, folder=folder)
