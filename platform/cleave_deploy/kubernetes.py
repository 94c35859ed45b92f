"""Kubernetes manifests of an extracted context (k8s/ in `manage.py extract`'s bundle).

Manifests are built as data and written by a tiny YAML emitter rather than text templates, so
indentation can never produce a different document than intended; every string is quoted as
JSON, which YAML reads back unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cleave_deploy.bundle import (
    HEADER,
    PORT,
    REALTIME_CONTEXT,
    REALTIME_PORT,
    SERVICE_JWKS_PATH,
    TEMPLATES,
    Service,
    commands,
    config_env,
    secret_env,
)

# --- YAML ------------------------------------------------------------------------------
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_./-]+$")


def to_yaml(value: Any, indent: int = 0) -> str:
    """A small, deterministic YAML emitter for manifests: mappings, lists and JSON scalars
    (every string is double-quoted JSON, which YAML reads as the same string)."""
    return "\n".join(_yaml_lines(value, indent)) + "\n"


def _scalar(value: Any) -> str:
    if isinstance(value, dict | list) and not value:
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value)


def _block(value: Any) -> bool:
    return isinstance(value, dict | list) and bool(value)


def _yaml_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = key if _PLAIN_KEY.match(key) else json.dumps(key)
            if _block(item):
                lines.append(f"{pad}{name}:")
                lines += _yaml_lines(item, indent + 2)
            else:
                lines.append(f"{pad}{name}: {_scalar(item)}")
        return lines
    for item in value:
        if _block(item):
            inner = _yaml_lines(item, indent + 2)
            lines.append(f"{pad}- {inner[0].lstrip()}")
            lines += inner[1:]
        else:
            lines.append(f"{pad}- {_scalar(item)}")
    return lines


def documents(*docs: Mapping[str, Any], comment: str) -> str:
    return f"# {comment}\n" + "---\n".join(to_yaml(doc) for doc in docs)


def _labels(service: Service, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": service.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "cleave",
    }


WORKER_METRICS_PORT = 9101


def _pod(service: Service, component: str, argv: list[str], port: int | None) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": component,
        "image": service.image,
        "command": argv,
        "envFrom": [
            {"configMapRef": {"name": f"{service.name}-config"}},
            {"secretRef": {"name": f"{service.name}-secrets"}},
        ],
        "volumeMounts": [
            {"name": "service-jwks", "mountPath": str(Path(SERVICE_JWKS_PATH).parent)},
            # Writable scratch (beat's schedule): var/static, collected in the image, stays.
            {"name": "var", "mountPath": "/app/var/run"},
        ],
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": "512Mi"},
        },
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    if port is not None:
        # Probes carry the Service's name as Host: ALLOWED_HOSTS refuses the pod's IP.
        def probe(path: str, period: int) -> dict[str, Any]:
            headers = [{"name": "Host", "value": service.name}]
            return {
                "httpGet": {"path": path, "port": "http", "httpHeaders": headers},
                "periodSeconds": period,
                "timeoutSeconds": 3,
                "failureThreshold": 3,
            }

        container["ports"] = [{"name": "http", "containerPort": port}]
        container["livenessProbe"] = probe("/healthz", 10)
        container["readinessProbe"] = probe("/readyz", 5)
    elif component in {"worker", "events"}:
        # Celery has no HTTP side: the worker serves /metrics on a port of its own.
        container["ports"] = [{"name": "metrics", "containerPort": WORKER_METRICS_PORT}]
        container["env"] = [
            {"name": "CLEAVE_METRICS_PORT", "value": str(WORKER_METRICS_PORT)},
            {"name": "CLEAVE_METRICS_HOST", "value": "0.0.0.0"},  # noqa: S104 - in the pod
        ]
    return {
        "metadata": {"labels": _labels(service, component)},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
            "containers": [container],
            "volumes": [
                {"name": "service-jwks", "configMap": {"name": "cleave-service-jwks"}},
                {"name": "var", "emptyDir": {}},
            ],
        },
    }


def _deployment(
    service: Service, component: str, *, replicas: int, port: int | None, single: bool = False
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": _labels(service, component)},
        "template": _pod(service, component, commands(service)[component], port),
    }
    if single:
        # Never two at once, not even during a rollout: one consumer keeps events in order,
        # one beat avoids double schedules.
        spec["strategy"] = {"type": "Recreate"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{service.name}-{component}", "labels": _labels(service, component)},
        "spec": spec,
    }


def _service(service: Service, name: str, component: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": _labels(service, component)},
        "spec": {
            "selector": _labels(service, component),
            "ports": [{"name": "http", "port": port, "targetPort": "http"}],
        },
    }


def manifests(service: Service) -> dict[str, str]:
    """k8s/*.yaml for the service (file name → content)."""
    note = HEADER.format(context=service.context)
    meta = {"name": f"{service.name}-config", "labels": _labels(service, "config")}
    files = {
        "configmap.yaml": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                           "data": config_env(service)},
        "secret.example.yaml": {
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": f"{service.name}-secrets", "labels": _labels(service, "config")},
            "stringData": secret_env(service),
        },
        "service-jwks.yaml": {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cleave-service-jwks"},
            "data": {Path(SERVICE_JWKS_PATH).name: json.dumps({"keys": []})},
        },
        "web.yaml": _deployment(service, "web", replicas=2, port=PORT),
        "service.yaml": _service(service, service.name, "web", PORT),
        "hpa.yaml": {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": f"{service.name}-web", "labels": _labels(service, "web")},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                   "name": f"{service.name}-web"},
                "minReplicas": 2, "maxReplicas": 10,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
            },
        },
        "migrate-job.yaml": {
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": f"{service.name}-migrate", "labels": _labels(service, "migrate")},
            "spec": {"backoffLimit": 1, "template": _pod(
                service, "migrate", ["django-admin", "migrate", "--no-input"], None)},
        },
    }  # fmt: skip
    files["migrate-job.yaml"]["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    rendered = {name: documents(doc, comment=note) for name, doc in files.items()}
    rendered["workers.yaml"] = documents(
        _deployment(service, "worker", replicas=1, port=None),
        _deployment(service, "events", replicas=1, port=None, single=True),
        _deployment(service, "beat", replicas=1, port=None, single=True),
        comment=note,
    )
    if service.context == REALTIME_CONTEXT:
        rendered["realtime.yaml"] = documents(
            _deployment(service, "realtime", replicas=2, port=REALTIME_PORT),
            _service(service, f"{service.name}-realtime", "realtime", REALTIME_PORT),
            comment=note,
        )
    # The Secret and the shared JWKS are templates: applying them would overwrite real values.
    applied = sorted(name for name in rendered if name not in TEMPLATES)
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                     "resources": applied}  # fmt: skip
    rendered["kustomization.yaml"] = documents(kustomization, comment=note)
    return dict(sorted(rendered.items()))
