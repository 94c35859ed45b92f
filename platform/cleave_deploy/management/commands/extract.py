"""`manage.py extract <context>`: the deployment bundle of one context as its own service;
`manage.py extract --nginx FILE …`: the gateway config of a whole split topology."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cleave_deploy import bundle, nginx
from cleave_deploy.data import DataMoveError


class Command(BaseCommand):
    help = (
        "Write deploy/<context>/ (env, Procfile, Dockerfile, k8s/, gateway.conf, DATA_MOVE.md), "
        "or with --nginx a full gateway config for a split topology."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("context", nargs="?", help="the context to extract")
        parser.add_argument("--output", type=Path, default=Path("deploy"), help="default deploy/")
        parser.add_argument("--image", default=bundle.DEFAULT_IMAGE, help="container image")
        parser.add_argument("--domain", default=bundle.DEFAULT_DOMAIN, help="public API host")
        topology = parser.add_argument_group("gateway config (--nginx)")
        topology.add_argument("--nginx", type=Path, help="write a full nginx.conf here")
        topology.add_argument(
            "--upstream",
            action="append",
            default=[],
            metavar="CONTEXT=HOST:PORT",
            help="the service hosting a context (repeat for each context)",
        )
        topology.add_argument("--realtime", metavar="HOST:PORT", help="the realtime upstream")
        topology.add_argument("--listen", default="127.0.0.1:8080", help="nginx's listen address")
        topology.add_argument(
            "--edge", help="the context whose service gets kernel routes (default: the edge)"
        )
        topology.add_argument(
            "--runtime-dir", type=Path, help="pid, logs and temp files (default: beside --nginx)"
        )
        topology.add_argument("--foreground", action="store_true", help="write `daemon off;`")

    def handle(self, *args: Any, context: str | None, **options: Any) -> None:
        if options["nginx"]:
            self._nginx(options)
            return
        if not context:
            raise CommandError("name a context to extract, or pass --nginx FILE")
        try:
            service = bundle.service_for(context, image=options["image"], domain=options["domain"])
            files = bundle.bundle(service)
        except (ValueError, DataMoveError) as exc:
            raise CommandError(str(exc)) from exc
        folder = options["output"] / context
        for path in bundle.write_bundle(files, folder):
            self.stdout.write(str(path))

    def _nginx(self, options: dict[str, Any]) -> None:
        if not options["realtime"]:
            raise CommandError("--nginx needs --realtime HOST:PORT")
        upstreams = {}
        for item in options["upstream"]:
            context, _, address = item.partition("=")
            if not address:
                raise CommandError(f"--upstream {item!r} is not CONTEXT=HOST:PORT")
            upstreams[context] = address
        target: Path = options["nginx"]
        paths = nginx.NginxPaths.under(options["runtime_dir"] or target.parent)
        try:
            text = nginx.render_nginx_conf(
                upstreams=upstreams,
                realtime=options["realtime"],
                listen=options["listen"],
                paths=paths,
                edge=options["edge"],
                daemon=not options["foreground"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        paths.create()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        self.stdout.write(str(target))
