"""Deleting a namespace: Terminating first, then gone with everything in it."""
from __future__ import annotations

import json
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

# Long enough that the Terminating phase is observable by the next request, short enough to wait out.
NAMESPACE_FINALIZE_DELAY = 1.5


def _wait_gone(read, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            read()
        except ApiException as exc:
            return exc.status
        time.sleep(0.05)
    raise AssertionError("still present")


def test_namespace_terminates_then_disappears_with_its_contents(kube_client, kubectl):
    core = client.CoreV1Api(kube_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="doomed")))
    assert core.read_namespace("doomed").status.phase == "Active"
    core.create_namespaced_config_map("doomed", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="inside")))
    kubectl.ok("create", "secret", "generic", "also-inside", "-n", "doomed", "--from-literal=k=v")

    core.delete_namespace("doomed")
    assert core.read_namespace("doomed").status.phase == "Terminating"
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_config_map("doomed", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="late")))
    assert refused.value.status == 403 and "being terminated" in json.loads(refused.value.body)["message"]

    assert _wait_gone(lambda: core.read_namespace("doomed")) == 404
    assert core.list_config_map_for_all_namespaces(field_selector="metadata.namespace=doomed").items == []
    assert core.list_secret_for_all_namespaces(field_selector="metadata.namespace=doomed").items == []


def test_objects_need_an_existing_namespace(kube_client):
    core = client.CoreV1Api(kube_client)
    with pytest.raises(ApiException) as missing:
        core.create_namespaced_config_map("nowhere", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x")))
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["message"] == 'namespaces "nowhere" not found'


def test_kubectl_delete_namespace_waits_until_it_is_gone(kubectl):
    kubectl.ok("create", "namespace", "short-lived")
    kubectl.ok("create", "configmap", "c", "-n", "short-lived")
    # kubectl delete waits for the namespace to disappear (it watches for the DELETED event).
    kubectl.ok("delete", "namespace", "short-lived", "--timeout=20s")
    assert kubectl.run("get", "namespace", "short-lived").returncode != 0
