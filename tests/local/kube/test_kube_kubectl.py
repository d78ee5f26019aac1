"""Real kubectl: apply (client- and server-side), get, patch, delete and wait."""
from __future__ import annotations

import json
import threading

import yaml

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
            {"name": "web", "image": "nginx:1.27",
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}},
    },
}


def _manifest(**changes) -> str:
    doc = json.loads(json.dumps(DEPLOYMENT))
    container = doc["spec"]["template"]["spec"]["containers"][0]
    container.update(changes)
    return yaml.safe_dump(doc)


def _get(kubectl, *args) -> dict:
    return json.loads(kubectl.ok("get", *args, "-o", "json"))


def _containers(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def test_client_side_apply_creates_then_three_way_merges(kubectl):
    assert "created" in kubectl.ok("apply", "-f", "-", stdin=_manifest())
    # Dropping env B from the manifest must remove it (three-way merge via last-applied annotation).
    kubectl.ok("apply", "-f", "-", stdin=_manifest(image="nginx:1.28", env=[{"name": "A", "value": "1"}]))
    web = _get(kubectl, "deployment", "web")
    assert _containers(web)[0]["image"] == "nginx:1.28"
    assert _containers(web)[0]["env"] == [{"name": "A", "value": "1"}]
    assert "kubectl.kubernetes.io/last-applied-configuration" in web["metadata"]["annotations"]
    kubectl.ok("delete", "deployment", "web")


def test_patch_merge_and_strategic(kubectl):
    kubectl.ok("apply", "-f", "-", stdin=_manifest())
    kubectl.ok("patch", "deployment", "web", "--type=merge", "-p", '{"metadata":{"labels":{"tier":"front"}}}')
    sidecar = {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}}
    kubectl.ok("patch", "deployment", "web", "--type=strategic", "-p", json.dumps(sidecar))
    web = _get(kubectl, "deployment", "web")
    assert web["metadata"]["labels"] == {"app": "web", "tier": "front"}
    # Strategic merge adds to the containers list by name instead of replacing it.
    assert [c["name"] for c in _containers(web)] == ["web", "side"]
    kubectl.ok("patch", "deployment", "web", "--type=json",
               "-p", '[{"op": "replace", "path": "/spec/replicas", "value": 5}]')
    assert _get(kubectl, "deployment", "web")["spec"]["replicas"] == 5
    kubectl.ok("scale", "deployment", "web", "--replicas=1")
    assert _get(kubectl, "deployment", "web")["spec"]["replicas"] == 1
    kubectl.ok("delete", "deployment", "web")


def test_server_side_apply_creates_and_prunes_fields_it_stopped_setting(kubectl):
    assert "serverside-applied" in kubectl.ok("apply", "--server-side", "-f", "-", stdin=_manifest())
    kubectl.ok("apply", "--server-side", "-f", "-", stdin=_manifest(env=[{"name": "A", "value": "9"}]))
    web = _get(kubectl, "deployment", "web")
    assert _containers(web)[0]["env"] == [{"name": "A", "value": "9"}]
    managers = json.loads(kubectl.ok("get", "deployment", "web", "--show-managed-fields", "-o", "json"))
    assert [m["manager"] for m in managers["metadata"]["managedFields"]] == ["kubectl"]


def test_get_list_and_delete(kubectl):
    kubectl.ok("create", "configmap", "settings", "--from-literal=a=1")
    listed = _get(kubectl, "configmaps")
    assert listed["kind"] == "List" and "settings" in [i["metadata"]["name"] for i in listed["items"]]
    table = kubectl.ok("get", "configmaps").splitlines()
    assert table[0].split() == ["NAME", "AGE"] and "settings" in [row.split()[0] for row in table[1:]]
    # Kind-qualified names in a multi-kind listing come from the server's Table answer.
    assert "configmap/settings" in kubectl.ok("get", "configmaps,secrets").split()
    kubectl.ok("delete", "configmap", "settings")
    missing = kubectl.run("get", "configmap", "settings")
    assert missing.returncode != 0 and 'configmaps "settings" not found' in missing.stderr


def test_wait_for_available_sees_status_set_by_a_controller(kubectl, kube_server):
    kubectl.ok("apply", "-f", "-", stdin=_manifest())
    store = kube_server.store

    def controller():
        # Only report Available once kubectl is watching, so the condition must arrive via watch.
        if store.wait_for_watch("apps/v1", "Deployment", timeout=20):
            generation = store.get_object("apps/v1", "Deployment", "default", "web")["metadata"]["generation"]
            store.set_status("apps/v1", "Deployment", "default", "web", {
                "observedGeneration": generation, "replicas": 2, "readyReplicas": 2, "availableReplicas": 2,
                "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]})
    thread = threading.Thread(target=controller, daemon=True)
    thread.start()
    waited = kubectl.run("wait", "--for=condition=Available", "deployment/web", "--timeout=30s")
    thread.join(timeout=30)
    assert waited.returncode == 0, waited.stderr
    assert "condition met" in waited.stdout


def test_kubectl_create_sends_protobuf_that_the_server_decodes(kubectl, kube_server):
    kubectl.ok("create", "namespace", "proto")
    kubectl.ok("create", "serviceaccount", "robot", "-n", "proto")
    kubectl.ok("create", "role", "reader", "-n", "proto", "--verb=get,list", "--resource=pods")
    kubectl.ok("create", "rolebinding", "robot-reads", "-n", "proto", "--role=reader", "--serviceaccount=proto:robot")
    binding = kube_server.store.get_object("rbac.authorization.k8s.io/v1", "RoleBinding", "proto", "robot-reads")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "robot", "namespace": "proto"}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}
    role = kube_server.store.get_object("rbac.authorization.k8s.io/v1", "Role", "proto", "reader")
    assert role["rules"] == [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]
    assert kube_server.store.get_object("v1", "Namespace", None, "proto")["status"] == {"phase": "Active"}
    # Kinds the protobuf decoder does not know are refused (415), never stored half-decoded.
    refused = kubectl.run("create", "deployment", "typed", "--image=nginx")
    assert refused.returncode != 0 and "apps/v1 Deployment" in refused.stderr
