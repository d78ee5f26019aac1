"""Real helm 3 and helm 4 manage a release's whole life against the local API server."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from coursehub_local.kube.errors import ApiError

CHART = str(Path(__file__).parent / "charts" / "demo")


def _release(helm) -> str:
    return f"demo-{helm.tag}"


def _get(server, api_version, kind, name, namespace="default"):
    return server.store.get_object(api_version, kind, namespace, name)


def _releases(helm) -> dict[str, dict]:
    return {r["name"]: r for r in json.loads(helm.ok("list", "--deployed", "--failed", "-o", "json") or "[]")}


def test_install_upgrade_rollback_and_uninstall(helm, kube_server):
    name = _release(helm)
    helm.ok("install", name, CHART, "--namespace", "default")
    config = _get(kube_server, "v1", "ConfigMap", f"{name}-config")
    assert config["data"] == {"message": "hello"}
    secret = _get(kube_server, "v1", "Secret", f"{name}-secret")
    assert base64.b64decode(secret["data"]["password"]) == b"hello-password"
    assert _get(kube_server, "v1", "Service", f"{name}-web")["spec"]["clusterIP"]
    assert _get(kube_server, "apps/v1", "Deployment", f"{name}-web")["spec"]["replicas"] == 1
    assert _releases(helm)[name]["status"] == "deployed"

    helm.ok("upgrade", name, CHART, "--set", "message=bye", "--set", "image=nginx:1.28", "--set", "extra=x")
    assert _get(kube_server, "v1", "ConfigMap", f"{name}-config")["data"] == {"message": "bye", "extra": "x"}
    containers = _get(kube_server, "apps/v1", "Deployment", f"{name}-web")["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == ["nginx:1.28"]
    assert _releases(helm)[name]["revision"] == "2"

    helm.ok("rollback", name, "1")
    assert _get(kube_server, "v1", "ConfigMap", f"{name}-config")["data"] == {"message": "hello"}
    status = json.loads(helm.ok("status", name, "-o", "json"))
    assert (status["info"]["status"], status["version"]) == ("deployed", 3)
    history = json.loads(helm.ok("history", name, "-o", "json"))
    assert [h["status"] for h in history] == ["superseded", "superseded", "deployed"]

    helm.ok("uninstall", name)
    assert name not in _releases(helm)
    for api_version, kind, suffix in [("v1", "ConfigMap", "config"), ("v1", "Secret", "secret"),
                                      ("v1", "Service", "web"), ("apps/v1", "Deployment", "web")]:
        with pytest.raises(ApiError) as missing:
            _get(kube_server, api_version, kind, f"{name}-{suffix}")
        assert missing.value.code == 404
    secrets, _ = kube_server.store.list(kube_server.store.resource_type("v1", "Secret"), "default",
                                        lambda o: o["metadata"].get("labels", {}).get("name") == name)
    assert secrets == []


def test_install_rejected_by_the_server_leaves_a_failed_release(helm, kube_server):
    name = f"broken-{helm.tag}"
    result = helm.run("install", name, CHART, "--set", "brokenConfigMapName=Bad_Name")
    assert result.returncode != 0
    assert "Bad_Name" in result.stderr and "Invalid value" in result.stderr
    status = json.loads(helm.ok("status", name, "-o", "json"))
    assert status["info"]["status"] == "failed"
    assert _releases(helm)[name]["status"] == "failed"
    helm.ok("uninstall", name)
    assert name not in _releases(helm)


def test_helm4_wait_returns_once_a_controller_reports_the_deployment_ready(helm4, kube_server):
    # helm 4 waits with kstatus (watching status); helm 3's legacy --wait also needs the
    # ReplicaSets and Pods that no controller makes here, so it is not exercised.
    helm = helm4
    store = kube_server.store

    def deployment_controller(event):
        obj = event.obj
        if obj["kind"] != "Deployment" or event.type == "DELETED":
            return
        generation, replicas = obj["metadata"]["generation"], obj["spec"].get("replicas", 1)
        if (obj.get("status") or {}).get("observedGeneration") == generation:
            return
        store.set_status("apps/v1", "Deployment", obj["metadata"]["namespace"], obj["metadata"]["name"], {
            "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas,
            "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                           {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]})
    unsubscribe = store.subscribe(deployment_controller)
    try:
        helm.ok("install", "waited", CHART, "--wait", "--timeout", "30s")
    finally:
        unsubscribe()
    assert _releases(helm)["waited"]["status"] == "deployed"
    helm.ok("uninstall", "waited")
