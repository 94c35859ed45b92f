"""Run by test_fourth_context.py in a process of its own, where a new context sits on the path:
what the kernel and the tools make of it, as JSON (argv: label, output folder).

It runs the real settings (no test settings, no example contexts), as `make split` and
`manage.py extract` would, and changes nothing outside the output folder.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import django
from django.core.management import call_command


def main(label: str, out: Path) -> dict[str, object]:
    from cleave import contexts
    from cleave_deploy import gateway, nginx, split
    from cleave_deploy import topology as split_topology

    # The doc's step "Migrations", then Django's and Cleave's checks with the context in place.
    call_command("makemigrations", label, stdout=io.StringIO())
    call_command("check", fail_level="WARNING")
    topology = split_topology.Topology.from_env({"SPLIT_BASE_PORT": "9000"})
    keys = {"secret_key": "probe-" + "x" * 60}
    for service in (*topology.services, split_topology.MONOLITH):
        keys |= {service: "k", f"{service}.encryption": "e", f"{service}.hash": "h"}
    conf = nginx.render_nginx_conf(
        upstreams=split.upstreams(topology),
        realtime="127.0.0.1:9099",
        listen="127.0.0.1:9098",
        paths=nginx.NginxPaths.under(out / "nginx"),
    )
    call_command("extract", label, output=out / "deploy", stdout=io.StringIO())
    snapshot, routes = out / "snapshot.json", out / "subscriptions.json"
    call_command("contracts", "snapshot", "--snapshot", str(snapshot), "--routes", str(routes))
    # Against the committed snapshot: the new contract is an addition, nothing breaks.
    checked = io.StringIO()
    call_command("contracts", "check", "--routes", str(routes), stdout=checked)
    return {
        "declared": [context.label for context in contexts.all_contexts()],
        "services": {name: list(hosted) for name, hosted in topology.services.items()},
        "envs": {
            name: split_topology.service_env(topology, name, keys) for name in topology.services
        },
        "urls": {name: topology.url(name) for name in topology.services},
        "edge": topology.edge,
        "owners": gateway.owners_by_prefix(gateway.ownership()),
        "nginx": conf,
        "bundle": sorted(
            str(path.relative_to(out / "deploy" / label))
            for path in (out / "deploy" / label).rglob("*")
            if path.is_file()
        ),
        "gateway_snippet": (out / "deploy" / label / "gateway.conf").read_text(),
        "snapshot": json.loads(snapshot.read_text()),
        "subscriptions": json.loads(routes.read_text()),
        "contracts_check": checked.getvalue(),
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")
    django.setup()
    label, out = sys.argv[1], Path(sys.argv[2])
    (out / "probe.json").write_text(json.dumps(main(label, out), indent=2))
