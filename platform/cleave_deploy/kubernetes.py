"""Kubernetes manifests of an extracted context (k8s/ in `manage.py extract`'s bundle).

Manifests are built as data and written with PyYAML (`safe_dump`), so indentation can never
produce a different document than intended and strings that look like numbers or booleans
are quoted. CI validates every one against the Kubernetes schemas (kubernetes-validate,
offline; platform/cleave_deploy/tests/test_manifests.py).

The web Deployment scales on CPU and on requests per second per pod: the HTTP request counter
every process exports (`cleave.observability.metrics.http_requests`), turned into a per-pod
rate by the prometheus-adapter rule written beside the manifests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from cleave.observability.metrics import http_requests
from cleave_deploy.bundle import (
    HEADER,
    PORT,
    REALTIME_PORT,
    SERVICE_JWKS_PATH,
    TEMPLATES,
    Service,
    commands,
    config_env,
    secret_env,
)

# The web pods' autoscaling: replicas between these, added when either target is exceeded.
MIN_WEB_REPLICAS = 2
MAX_WEB_REPLICAS = 10
TARGET_CPU_UTILIZATION = 70  # percent of the CPU request
# Requests per second per web pod before another is added: a starting point, far below what a
# pod serves on cheap reads (≈ 8,000/s for /api/v1/me, docs/benchmarks.md) because real routes
# wait on the database and other services; CPU catches the hashing-heavy mixes (sign-ins,
# ≈ 40/s a process). Tune both from the service's own dashboards.
TARGET_REQUESTS_PER_SECOND = 100
# Counters are `<name>_total` on the wire; the adapter exposes their rate under this name.
_REQUESTS_NAME = next(iter(http_requests.describe())).name
REQUESTS_SERIES = f"{_REQUESTS_NAME}_total"
REQUESTS_PER_SECOND_METRIC = f"{_REQUESTS_NAME}_per_second"
RATE_WINDOW = "2m"  # at least four 15 s scrapes: a rate over fewer jumps with each one
ADAPTER_RULES = "prometheus-adapter-rules.yaml"
SCRATCH = "/app/var/run"  # the pod's writable emptyDir (beat's schedule, metric files)
DRAIN_FILE = f"{SCRATCH}/draining"  # created by the preStop hook: readiness false (cleave.health)


def to_yaml(value: Any) -> str:
    """One YAML document, keys in the order built (reviewable diffs), no line folding."""
    text: str = yaml.safe_dump(
        value, sort_keys=False, default_flow_style=False, width=10_000, allow_unicode=True
    )
    return text


def documents(*docs: Mapping[str, Any], comment: str) -> str:
    return f"# {comment}\n" + "---\n".join(to_yaml(dict(doc)) for doc in docs)


def _labels(service: Service, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": service.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "cleave",
    }


WORKER_METRICS_PORT = 9101
# Processes with several workers sum their metrics through files here (cleave.observability).
MULTIPROCESS_COMPONENTS = frozenset({"web", "worker", "events"})


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
            {"name": "var", "mountPath": SCRATCH},
        ],
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": "512Mi"},
        },
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    if component in MULTIPROCESS_COMPONENTS:
        container["env"] = [{"name": "PROMETHEUS_MULTIPROC_DIR", "value": SCRATCH}]
    scrape_port: int | None = port
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
        # Readiness goes false before SIGTERM: the hook creates the drain file (/readyz then
        # answers 503) and waits out two probe periods, so the Service stops routing here;
        # then the server finishes its in-flight requests (cleave_deploy/rolling.py on loopback).
        container.setdefault("env", []).append({"name": "CLEAVE_DRAIN_FILE", "value": DRAIN_FILE})
        container["lifecycle"] = {
            "preStop": {"exec": {"command": ["/bin/sh", "-c", f"touch {DRAIN_FILE}; sleep 10"]}}
        }
    elif component in {"worker", "events"}:
        # Celery has no HTTP side: the worker serves /metrics on a port of its own.
        container["ports"] = [{"name": "metrics", "containerPort": WORKER_METRICS_PORT}]
        container["env"] += [
            {"name": "CLEAVE_METRICS_PORT", "value": str(WORKER_METRICS_PORT)},
            {"name": "CLEAVE_METRICS_HOST", "value": "0.0.0.0"},  # noqa: S104 - in the pod
        ]
        scrape_port = WORKER_METRICS_PORT
    metadata: dict[str, Any] = {"labels": _labels(service, component)}
    if scrape_port is not None:
        # The common scrape convention (Prometheus' kubernetes_sd example relabelling):
        # every pod's /metrics, which the gateway never routes.
        metadata["annotations"] = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(scrape_port),
            "prometheus.io/path": "/metrics",
        }
    return {
        "metadata": metadata,
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


def _autoscaler(service: Service) -> dict[str, Any]:
    """CPU and requests per second per pod; the larger of the two proposals wins."""
    cpu = {
        "type": "Resource",
        "resource": {
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": TARGET_CPU_UTILIZATION},
        },
    }
    requests = {
        "type": "Pods",
        "pods": {
            "metric": {"name": REQUESTS_PER_SECOND_METRIC},
            "target": {"type": "AverageValue", "averageValue": str(TARGET_REQUESTS_PER_SECOND)},
        },
    }
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": f"{service.name}-web", "labels": _labels(service, "web")},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                               "name": f"{service.name}-web"},
            "minReplicas": MIN_WEB_REPLICAS, "maxReplicas": MAX_WEB_REPLICAS,
            "metrics": [cpu, requests],
        },
    }  # fmt: skip


def adapter_rules() -> dict[str, Any]:
    """prometheus-adapter's rule publishing `REQUESTS_PER_SECOND_METRIC` per pod (the custom
    metrics API the autoscaler reads): the counter's rate, summed over the pod's processes and
    routes. The same for every service: merge it once into the adapter's `rules`."""
    return {
        "rules": [
            {
                "seriesQuery": f'{REQUESTS_SERIES}{{namespace!="",pod!=""}}',
                "resources": {
                    "overrides": {
                        "namespace": {"resource": "namespace"},
                        "pod": {"resource": "pod"},
                    }
                },
                "name": {"matches": f"^{REQUESTS_SERIES}$", "as": REQUESTS_PER_SECOND_METRIC},
                "metricsQuery": (
                    f"sum(rate(<<.Series>>{{<<.LabelMatchers>>}}[{RATE_WINDOW}])) by (<<.GroupBy>>)"
                ),
            }
        ]
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
        "hpa.yaml": _autoscaler(service),
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
    if service.realtime:
        rendered["realtime.yaml"] = documents(
            _deployment(service, "realtime", replicas=2, port=REALTIME_PORT),
            _service(service, f"{service.name}-realtime", "realtime", REALTIME_PORT),
            comment=note,
        )
    # The Secret and the shared JWKS are templates: applying them would overwrite real values.
    applied = sorted(name for name in rendered if name not in TEMPLATES | {ADAPTER_RULES})
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                     "resources": applied}  # fmt: skip
    rendered["kustomization.yaml"] = documents(kustomization, comment=note)
    # Not a Kubernetes object: the prometheus-adapter's configuration (docs/extraction.md).
    rendered[ADAPTER_RULES] = documents(adapter_rules(), comment=note)
    return dict(sorted(rendered.items()))
