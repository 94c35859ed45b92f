"""`manage.py extract <context>`: a deterministic, valid deployment bundle with no secrets."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command

from cleave_deploy.file_set import read_files_txt
from cleave_deploy.testing import nginx_config_problem

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def _extract(tmp_path: Path, context: str, *extra: str) -> Path:
    call_command("extract", context, "--output", str(tmp_path), *extra, stdout=io.StringIO())
    return tmp_path / context


def _files(folder: Path) -> dict[str, bytes]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {str(p.relative_to(folder)): p.read_bytes() for p in files}


def _docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs if not key.startswith("#")}


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return _extract(tmp_path, "messaging", "--image", "ghcr.io/acme/cleave:1.2.3")


def test_extracting_twice_writes_identical_bundles(tmp_path: Path) -> None:
    first = _files(_extract(tmp_path / "a", "messaging"))
    second = _files(_extract(tmp_path / "b", "messaging"))
    assert first == second
    assert {"messaging.env", "Procfile", "Dockerfile", "gateway.conf", "DATA_MOVE.md"} <= set(first)


def test_an_unknown_context_is_refused_with_the_installed_ones(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"unknown context 'billing'.*messaging"):
        _extract(tmp_path, "billing")


def test_env_names_the_service_and_the_others_by_cluster_dns(bundle: Path) -> None:
    env = _env(bundle / "messaging.env")
    assert env["CLEAVE_CONTEXTS"] == "messaging"
    assert env["CLEAVE_SERVICE_NAME"] == "messaging"
    assert env["CLEAVE_IDENTITY_URL"] == "http://cleave-identity:8000"
    assert env["CLEAVE_NOTIFICATIONS_URL"] == "http://cleave-notifications:8000"
    assert "CLEAVE_MESSAGING_URL" not in env
    assert env["CLEAVE_JWKS_URL"] == "http://cleave-identity:8000/.well-known/jwks.json"
    assert env["DATABASE_URL"].endswith("/cleave_messaging")


SECRETS = {
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "CLEAVE_SERVICE_KEY",
    "CLEAVE_ENCRYPTION_KEYS",
    "CLEAVE_HASH_KEY",
}


def test_secrets_are_placeholders_and_only_in_the_secret_template(bundle: Path) -> None:
    env = _env(bundle / "messaging.env")
    for key in SECRETS:
        assert "CHANGE_ME" in env[key], key
    everything = "".join(p.read_text() for p in bundle.rglob("*") if p.is_file())
    assert settings.SECRET_KEY not in everything
    (configmap,) = _docs(bundle / "k8s" / "configmap.yaml")
    assert not SECRETS & set(configmap["data"])
    (secret,) = _docs(bundle / "k8s" / "secret.example.yaml")
    assert secret["kind"] == "Secret"
    assert set(secret["stringData"]) == SECRETS


def test_configmap_holds_exactly_the_env_files_non_secret_values(bundle: Path) -> None:
    (configmap,) = _docs(bundle / "k8s" / "configmap.yaml")
    env = _env(bundle / "messaging.env")
    assert configmap["data"] == {k: v for k, v in env.items() if k in configmap["data"]}
    assert len(configmap["data"]) + len(SECRETS) == len(env)


def test_every_manifest_is_valid_yaml_with_probes_resources_and_autoscaling(bundle: Path) -> None:
    manifests = sorted((bundle / "k8s").glob("*.yaml"))
    objects = [p for p in manifests if p.name != "prometheus-adapter-rules.yaml"]
    docs = [doc for path in objects for doc in _docs(path) if doc["kind"] != "Kustomization"]
    kinds = {(doc["kind"], doc["metadata"].get("name")) for doc in docs}
    assert ("Deployment", "cleave-messaging-web") in kinds
    assert ("Deployment", "cleave-messaging-events") in kinds
    assert ("Service", "cleave-messaging") in kinds
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    web = deployments["cleave-messaging-web"]
    (container,) = web["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "ghcr.io/acme/cleave:1.2.3"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # A rolling update takes the pod out of the Service first: readiness false, then SIGTERM.
    drain = next(e["value"] for e in container["env"] if e["name"] == "CLEAVE_DRAIN_FILE")
    assert f"touch {drain}" in container["lifecycle"]["preStop"]["exec"]["command"][-1]
    assert container["resources"]["requests"]["cpu"]
    assert web["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    hpa = next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    events = deployments["cleave-messaging-events"]
    assert events["spec"]["replicas"] == 1
    assert events["spec"]["strategy"]["type"] == "Recreate"  # never two consumers at once


def test_kustomization_applies_everything_but_the_templates(bundle: Path) -> None:
    (kustomization,) = _docs(bundle / "k8s" / "kustomization.yaml")
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in (bundle / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    # Templates to fill in, and the adapter's configuration (not a Kubernetes object).
    not_applied = {"secret.example.yaml", "service-jwks.yaml", "prometheus-adapter-rules.yaml"}
    assert listed == on_disk - not_applied


def test_procfile_runs_the_events_worker_on_its_own_queue_only(bundle: Path) -> None:
    lines = dict(line.split(": ", 1) for line in (bundle / "Procfile").read_text().splitlines()[1:])
    assert set(lines) == {"web", "worker", "events", "beat", "realtime"}
    assert "--queues events.messaging " in lines["events"]
    assert "--pool solo" in lines["events"]
    assert lines["web"].startswith("granian --interface wsgi")


def test_only_the_realtime_context_gets_a_realtime_deployment(tmp_path: Path) -> None:
    identity = _extract(tmp_path, "identity")
    assert not (identity / "k8s" / "realtime.yaml").exists()
    assert "realtime:" not in (identity / "Procfile").read_text()
    assert "CLEAVE_JWKS_URL" not in _env(identity / "identity.env")  # it signs the tokens


def test_dockerfile_installs_with_constraints_and_runs_as_a_non_root_user(bundle: Path) -> None:
    dockerfile = (bundle / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "pip install -c constraints.txt -e ." in dockerfile
    assert "\nUSER 10001\n" in dockerfile
    assert 'CMD ["granian", "--interface", "wsgi"' in dockerfile


def test_the_image_copies_exactly_the_file_list_and_no_other_context(bundle: Path) -> None:
    entries = read_files_txt((bundle / "files.txt").read_text())
    copied = [
        line.split()[1] for line in (bundle / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ") and "--from" not in line
    ]  # fmt: skip
    assert copied == entries
    assert "platform/cleave/" in entries
    assert [e for e in entries if e.startswith("apps/")] == ["apps/__init__.py", "apps/messaging/"]
    # What it publishes, what it calls, what the kernel calls; never another context's code.
    assert {"contracts/messaging/", "contracts/identity/", "contracts/flags/"} <= set(entries)
    assert not [e for e in entries if "cleave_deploy" in e]


def test_gateway_snippet_routes_the_contexts_prefixes_and_nginx_accepts_it(
    bundle: Path, tmp_path: Path
) -> None:
    snippet = (bundle / "gateway.conf").read_text()
    assert "location ^~ /api/v1/conversations/ { proxy_pass http://cleave_messaging; }" in snippet
    assert "/api/v1/me" not in snippet
    if NGINX is None:
        pytest.skip("nginx is not installed")
    prefix = tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\nevents {{}}\nhttp {{\n"
        "  map $http_x_request_id $cleave_request_id { default $request_id; }\n"
        "  upstream cleave_messaging { server 127.0.0.1:9; }\n"
        "  upstream cleave_realtime { server 127.0.0.1:9; }\n"
        f"  server {{ listen 127.0.0.1:9; include {bundle / 'gateway.conf'}; }}\n}}\n"
    )
    assert nginx_config_problem(NGINX, conf, prefix) is None


def test_a_services_gateway_snippet_routes_its_admin_and_its_env_names_the_edge(
    tmp_path: Path,
) -> None:
    messaging = _extract(tmp_path, "messaging")
    snippet = (messaging / "gateway.conf").read_text()
    assert "location ^~ /admin/messaging/ { proxy_pass http://cleave_messaging; }" in snippet
    assert _env(messaging / "messaging.env")["CLEAVE_ADMIN_EDGE"] == "identity"
    identity = _extract(tmp_path, "identity")
    assert "location ^~ /admin/identity/" not in (identity / "gateway.conf").read_text()
    assert "CLEAVE_ADMIN_EDGE" not in _env(identity / "identity.env")  # staff sign in there


def test_data_move_plan_lists_every_table_and_the_exact_commands(bundle: Path) -> None:
    plan = (bundle / "DATA_MOVE.md").read_text()
    for table in ("messaging_conversation", "messaging_member", "messaging_message"):
        assert f"`{table}`" in plan
    assert "cleave_inboxentry" in plan
    assert "context_data export messaging --output messaging.jsonl" in plan
    assert "context_data import messaging --input messaging.jsonl" in plan
    assert "context_data verify messaging" in plan
    assert "## Rollback" in plan


def test_identity_plan_moves_groups_by_name_but_not_permissions(tmp_path: Path) -> None:
    plan = (_extract(tmp_path, "identity") / "DATA_MOVE.md").read_text()
    assert "`identity_user_groups`" in plan
    assert "auth.Group" in plan
    assert "`auth_permission`" not in plan


def test_nginx_option_writes_a_full_gateway_config(tmp_path: Path) -> None:
    target = tmp_path / "split" / "nginx.conf"
    upstreams = [f"--upstream={c}=127.0.0.1:{8100 + i}" for i, c in enumerate(_contexts())]
    call_command(
        "extract",
        "--nginx",
        str(target),
        *upstreams,
        "--realtime",
        "127.0.0.1:8199",
        "--listen",
        "127.0.0.1:8080",
        "--foreground",
        stdout=io.StringIO(),
    )
    text = target.read_text()
    assert "daemon off;" in text
    assert f"pid {tmp_path / 'split' / 'nginx.pid'};" in text
    assert (tmp_path / "split" / "tmp" / "proxy").is_dir()


def _contexts() -> list[str]:
    return [path.rsplit(".", 1)[1] for path in settings.CLEAVE_CONTEXTS]
