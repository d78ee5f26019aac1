"""Store semantics: watches from a resourceVersion, status subresource, finalizers and garbage collection."""
from __future__ import annotations

import json
import threading

import pytest
import requests

from coursehub_local.kube.errors import ApiError
from coursehub_local.kube.store import ObjectStore

DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": {"name": "d", "namespace": "default"},
          "spec": {"selector": {"matchLabels": {"a": "b"}},
                   "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c"}]}}}}


@pytest.fixture
def store():
    store = ObjectStore(namespace_finalize_delay=0.05)
    yield store
    store.close()


def _watch(server, ca, query: str, count: int) -> list[dict]:
    """Read ``count`` events from a raw HTTP watch."""
    url = f"{server.endpoint}/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=10&{query}"
    events = []
    with requests.get(url, headers={"Authorization": "Bearer t"}, verify=str(ca), stream=True, timeout=10) as resp:
        assert resp.headers["Content-Type"] == "application/json"
        for line in resp.iter_lines():
            events.append(json.loads(line))
            if len(events) == count:
                break
    return events


def test_status_updates_only_touch_status_and_spec_changes_bump_generation(store):
    deployments = store.resource_type("apps/v1", "Deployment")
    created = store.create(deployments, dict(DEPLOY, status={"replicas": 9}), keep_status=False)
    assert created["status"] == {} and created["metadata"]["generation"] == 1
    ready = store.set_status("apps/v1", "Deployment", "default", "d", {"readyReplicas": 1})
    assert ready["status"] == {"readyReplicas": 1} and ready["metadata"]["generation"] == 1
    changed = dict(ready, spec=dict(ready["spec"], replicas=3), status={"readyReplicas": 0})
    updated = store.update(deployments, changed, "default", "d", keep_status=False)
    assert updated["metadata"]["generation"] == 2 and updated["status"] == {"readyReplicas": 1}
    with pytest.raises(ApiError) as stale:
        store.update(deployments, ready, "default", "d")
    assert stale.value.code == 409


def test_finalizers_delay_deletion_until_removed(store):
    maps = store.resource_type("v1", "ConfigMap")
    store.create(maps, {"metadata": {"name": "held", "finalizers": ["example.org/hold"]}})
    obj, gone = store.delete(maps, "default", "held")
    assert not gone and obj["metadata"]["deletionTimestamp"]
    obj["metadata"]["finalizers"] = []
    store.update(maps, obj, "default", "held")
    with pytest.raises(ApiError) as missing:
        store.get(maps, "default", "held")
    assert missing.value.code == 404


def test_deleting_an_owner_collects_its_dependents(store):
    deployments, sets = store.resource_type("apps/v1", "Deployment"), store.resource_type("apps/v1", "ReplicaSet")
    owner = store.create(deployments, DEPLOY)
    ref = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": owner["metadata"]["uid"]}
    store.create(sets, dict(DEPLOY, kind="ReplicaSet", metadata={"name": "d-1", "ownerReferences": [ref]}))
    store.delete(deployments, "default", "d")
    assert store.list(sets, "default")[0] == []


def test_dry_run_create_stores_nothing(store):
    maps = store.resource_type("v1", "ConfigMap")
    before = store.resource_version
    store.create(maps, {"metadata": {"name": "dry"}}, dry_run=True)
    assert store.resource_version == before and store.list(maps, "default")[0] == []


def test_subscribers_see_every_change_in_order(store):
    maps = store.resource_type("v1", "ConfigMap")
    seen, done = [], threading.Event()

    def record(event):
        seen.append((event.type, event.obj["metadata"]["name"]))
        if event.type == "DELETED":
            done.set()
    unsubscribe = store.subscribe(record)
    obj = store.create(maps, {"metadata": {"name": "s"}, "data": {"a": "1"}})
    store.update(maps, dict(obj, data={"a": "2"}), "default", "s")
    store.delete(maps, "default", "s")
    assert done.wait(5)
    unsubscribe()
    assert seen == [("ADDED", "s"), ("MODIFIED", "s"), ("DELETED", "s")]


def test_http_watch_resumes_from_a_resource_version_and_filters_by_label(kube_server, kube_home):
    ca = kube_home / "store-ca.crt"
    ca.write_bytes(kube_server.ca_pem)
    store, maps = kube_server.store, kube_server.store.resource_type("v1", "ConfigMap")
    start = store.resource_version
    obj = store.create(maps, {"metadata": {"name": "w", "labels": {"watched": "yes"}}})
    store.update(maps, dict(obj, metadata=dict(obj["metadata"], labels={"watched": "no"})), "default", "w")
    store.create(maps, {"metadata": {"name": "ignored"}})
    events = _watch(kube_server, ca, f"resourceVersion={start}&labelSelector=watched%3Dyes", 2)
    # Leaving the selector's view is reported as DELETED, as kube-apiserver does.
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "w"), ("DELETED", "w")]
    initial = _watch(kube_server, ca, "sendInitialEvents=true&allowWatchBookmarks=true"
                                      "&resourceVersionMatch=NotOlderThan&fieldSelector=metadata.name%3Dignored", 2)
    assert [e["type"] for e in initial] == ["ADDED", "BOOKMARK"]
    assert initial[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_watch_from_a_compacted_resource_version_is_gone():
    store = ObjectStore(log_size=5)
    maps = store.resource_type("v1", "ConfigMap")
    for n in range(10):
        store.create(maps, {"metadata": {"name": f"m{n}"}})
    with pytest.raises(ApiError) as gone:
        store.events_after(1, 0.1)
    assert gone.value.code == 410
    store.close()


def test_stopping_the_server_ends_open_watches(tmp_path):
    from coursehub_local.kube.server import KubeApiServer

    server = KubeApiServer(cluster_name="short").start()
    ca = tmp_path / "ca.crt"
    ca.write_bytes(server.ca_pem)
    opened, finished = threading.Event(), threading.Event()

    def watch_forever():
        url = f"{server.endpoint}/api/v1/configmaps?watch=true"
        try:
            with requests.get(url, headers={"Authorization": "Bearer t"}, verify=str(ca), stream=True,
                              timeout=30) as resp:
                opened.set()
                for _ in resp.iter_lines():
                    pass
        except requests.RequestException:
            pass
        finished.set()
    threading.Thread(target=watch_forever, daemon=True).start()
    assert opened.wait(10) and server.store.wait_for_watch("v1", "ConfigMap", timeout=10)
    server.stop()
    assert finished.wait(10)
