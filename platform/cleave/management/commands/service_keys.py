"""`manage.py service_keys generate <service>`: a signing key for a service's internal calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cleave.remote.service_tokens import generate_key, public_jwk


class Command(BaseCommand):
    help = (
        "Generate a service's key pair: the private key (CLEAVE_SERVICE_KEY, a secret) and its "
        "public JWK, which goes into the CLEAVE_SERVICE_JWKS of every service it may call."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        generate = sub.add_parser("generate", help="make a new key pair")
        generate.add_argument("service")
        generate.add_argument(
            "--jwks", type=Path, help="add the public key to this JWKS file (created if missing)"
        )
        public = sub.add_parser("public", help="print the public JWK of a private key")
        public.add_argument("service")
        public.add_argument("private_key")

    def handle(self, *args: Any, action: str, service: str, **options: Any) -> None:
        if action == "public":
            self.stdout.write(json.dumps(public_jwk(service, options["private_key"])))
            return
        private, jwk = generate_key(service)
        path: Path | None = options["jwks"]
        if path is not None:
            jwks = json.loads(path.read_text()) if path.exists() else {"keys": []}
            if not isinstance(jwks.get("keys"), list):
                raise CommandError(f"{path} is not a JWKS (no 'keys' list)")
            jwks["keys"].append(jwk)
            path.write_text(json.dumps(jwks, indent=2) + "\n")
            self.stderr.write(f"added {jwk['kid']} to {path}")
        else:
            self.stderr.write(f"public JWK (add it to the callees' CLEAVE_SERVICE_JWKS):\n{jwk}")
        self.stdout.write(f"CLEAVE_SERVICE_KEY={private}")
