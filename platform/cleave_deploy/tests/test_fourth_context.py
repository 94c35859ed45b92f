"""Proof by a fourth context: one made by following docs/adding-a-context.md gets its place in
the gateway, the split topology, `extract`, the event routes, the authorization matrix and the
contract snapshot, with no edit to the kernel, the tools or the other contexts.

The context is written to a temporary folder (its own `apps/` and `contracts/`, joined to this
repository's through their namespace packages), and everything that looks at it runs in
processes of their own with that folder on the path: this test process never sees it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[3]
PROBE = Path(__file__).with_name("fourth_context_probe.py")
LABEL = "ledger"
# Doc step "Listen": a subscriber to another context's event, calling the context's own service.
SUBSCRIBERS = f'''"""{LABEL} forgets a deleted account's items."""

from apps.{LABEL} import services
from cleave.events import subscriber
from contracts.identity import UserDeleted


@subscriber(UserDeleted)
def on_user_deleted(event: UserDeleted) -> None:
    services.user_erase(user_id=event.user_id)
'''


def _env(folder: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CLEAVE_", "DATABASE_URL", "REDIS_URL", "DJANGO_"))
    }
    paths = [str(folder), str(ROOT), str(ROOT / "platform")]
    return {**env, "PYTHONPATH": os.pathsep.join(paths), "CLEAVE_VAR_DIR": str(folder / "var")}


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(  # noqa: S603 - our own manage.py, pytest and probe
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_a_context_added_by_the_doc_gets_its_place_everywhere_without_a_kernel_edit(
    tmp_path: Path,
) -> None:
    # Steps 1-6 of the doc: the scaffold, then a subscriber of its own.
    call_command("context_new", LABEL, root=tmp_path, stdout=open(os.devnull, "w"))  # noqa: SIM115
    (tmp_path / "apps" / LABEL / "subscribers.py").write_text(SUBSCRIBERS)
    env = _env(tmp_path)
    _run([sys.executable, str(PROBE), LABEL, str(tmp_path / "out")], env)
    probe = json.loads((tmp_path / "out" / "probe.json").read_text())
    assert (tmp_path / "apps" / LABEL / "migrations" / "0001_initial.py").exists()

    # Discovered from its declaration, beside the others.
    assert LABEL in probe["declared"]
    assert len(probe["declared"]) >= 4
    # Its service in the split topology, found by the others at its URL.
    assert probe["services"][LABEL] == [LABEL]
    own = probe["envs"][LABEL]
    assert (own["CLEAVE_CONTEXTS"], own["CLEAVE_TASK_QUEUE"]) == (LABEL, f"celery.{LABEL}")
    assert own["DATABASE_URL"].endswith(f"/cleave_split_{LABEL}")
    edge = probe["envs"][probe["edge"]]
    assert edge[f"CLEAVE_{LABEL.upper()}_URL"] == probe["urls"][LABEL]
    assert LABEL not in probe["services"]["realtime"]  # its streams need no realtime process
    # Its routes in the gateway, to its own upstream.
    assert probe["owners"][f"/api/v1/{LABEL}"] == LABEL
    assert f"upstream cleave_{LABEL} {{\n        server 127.0.0.1:" in probe["nginx"]
    block = probe["nginx"].split(f"location ^~ /api/v1/{LABEL}/ {{", 1)[1].split("}", 1)[0]
    assert f"proxy_pass http://cleave_{LABEL};" in block
    # Its `extract` bundle: a service without a realtime deployment, routed by its snippet.
    assert {f"{LABEL}.env", "Procfile", "Dockerfile", "gateway.conf", "DATA_MOVE.md"} <= set(
        probe["bundle"]
    )
    assert "k8s/realtime.yaml" not in probe["bundle"]
    assert f"location ^~ /api/v1/{LABEL}/" in probe["gateway_snippet"]
    # Its contract in the snapshot (an addition to the committed one) and its event routes.
    published = probe["snapshot"]["contexts"][LABEL]
    assert list(published["calls"]) == ["item_count"]
    assert list(published["events"]) == [f"{LABEL}.item_created"]
    assert LABEL in probe["subscriptions"]["identity.user_deleted"]
    assert f"additive  {LABEL}: context added" in probe["contracts_check"]
    assert "compatible" in probe["contracts_check"]

    # Its rows of the authorization matrix complete it, and its cells hold; its own tests pass.
    output = _run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "pyproject.toml",
            "--rootdir", str(ROOT), str(tmp_path / "apps" / LABEL / "tests"),
            "tests/security/test_authz_matrix.py", "-k", f"{LABEL} or every_route_has_a_row",
        ],
        env,
    )  # fmt: skip
    # 3 tests of its own, the completeness test, and 3 routes × 6 callers.
    passed = re.search(r"(\d+) passed", output)
    assert passed is not None
    assert int(passed[1]) == 3 + 1 + 3 * 6, output[-500:]
