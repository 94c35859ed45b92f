"""The Kubernetes manifests `manage.py extract` writes are valid Kubernetes objects (checked
offline against the API schemas that kubernetes-validate ships), for every context."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml
from django.conf import settings

from cleave.observability.metrics import http_requests
from cleave_deploy.bundle import service_for
from cleave_deploy.kubernetes import ADAPTER_RULES, REQUESTS_PER_SECOND_METRIC, manifests

# The oldest Kubernetes release still common in managed clusters, and the newest known.
VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
CONTEXTS = [path.rsplit(".", 1)[1] for path in settings.CLEAVE_CONTEXTS]


def _objects(files: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, doc)
        for name, text in files.items()
        if name not in {"kustomization.yaml", ADAPTER_RULES}
        for doc in yaml.safe_load_all(text)
        if doc
    ]


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schemas(
    context: str, version: str
) -> None:
    objects = _objects(manifests(service_for(context)))
    assert {doc["kind"] for _, doc in objects} >= {
        "ConfigMap", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler", "Job"
    }  # fmt: skip
    for name, doc in objects:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{context} k8s/{name} ({doc['kind']}) on {version}: {error.message}")


def test_the_validator_refuses_a_broken_manifest() -> None:
    """The check above can fail: a field Kubernetes does not know is refused in strict mode."""
    (hpa,) = yaml.safe_load_all(manifests(service_for(CONTEXTS[0]))["hpa.yaml"])
    hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilisation"] = 70
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(hpa, VERSIONS[0], strict=True)


def test_the_autoscaler_scales_on_cpu_and_on_requests_per_second_per_pod() -> None:
    files = manifests(service_for(CONTEXTS[0]))
    (hpa,) = yaml.safe_load_all(files["hpa.yaml"])
    by_type = {metric["type"]: metric for metric in hpa["spec"]["metrics"]}
    assert by_type["Resource"]["resource"]["name"] == "cpu"
    pods = by_type["Pods"]["pods"]
    assert pods["metric"]["name"] == REQUESTS_PER_SECOND_METRIC
    assert pods["target"]["type"] == "AverageValue"
    # The adapter publishes that name from the counter the processes really export.
    (rule,) = yaml.safe_load(files[ADAPTER_RULES])["rules"]
    exported = f"{next(iter(http_requests.describe())).name}_total"
    assert rule["seriesQuery"].startswith(exported + "{")
    assert rule["name"] == {"matches": f"^{exported}$", "as": REQUESTS_PER_SECOND_METRIC}
    assert "rate(<<.Series>>{<<.LabelMatchers>>}" in rule["metricsQuery"]
    assert set(rule["resources"]["overrides"]) == {"namespace", "pod"}


def test_scraped_pods_sum_their_workers_metrics() -> None:
    """Two granian workers answer /metrics in turn: without a shared multiprocess folder the
    counter the autoscaler rates would jump between them."""
    (web,) = yaml.safe_load_all(manifests(service_for(CONTEXTS[0]))["web.yaml"])
    template = web["spec"]["template"]
    assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    (container,) = template["spec"]["containers"]
    env = {item["name"]: item["value"] for item in container["env"]}
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert env["PROMETHEUS_MULTIPROC_DIR"] in mounts
