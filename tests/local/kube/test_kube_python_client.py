"""The official kubernetes Python client: CRUD, selectors, conflicts and watches."""
from __future__ import annotations

import json
import threading

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException


def _config_map(name: str, labels: dict, data: dict) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data)


def test_config_map_crud(kube_client):
    core = client.CoreV1Api(kube_client)
    created = core.create_namespaced_config_map("default", _config_map("crud", {"app": "crud"}, {"a": "1"}))
    assert created.metadata.uid and created.metadata.resource_version
    assert core.read_namespaced_config_map("crud", "default").data == {"a": "1"}
    created.data = {"a": "2"}
    replaced = core.replace_namespaced_config_map("crud", "default", created)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    patched = core.patch_namespaced_config_map("crud", "default", {"data": {"b": "3"}})
    assert patched.data == {"a": "2", "b": "3"}
    core.delete_namespaced_config_map("crud", "default")
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("crud", "default")
    assert missing.value.status == 404


def test_list_with_label_selector(kube_client):
    core = client.CoreV1Api(kube_client)
    for name, tier in [("sel-a", "front"), ("sel-b", "back"), ("sel-c", "front")]:
        core.create_namespaced_config_map("default", _config_map(name, {"suite": "sel", "tier": tier}, {}))
    front = core.list_namespaced_config_map("default", label_selector="suite=sel,tier=front")
    assert sorted(i.metadata.name for i in front.items) == ["sel-a", "sel-c"]
    not_front = core.list_namespaced_config_map("default", label_selector="suite=sel,tier notin (front)")
    assert [i.metadata.name for i in not_front.items] == ["sel-b"]
    everywhere = core.list_config_map_for_all_namespaces(label_selector="suite")
    assert len(everywhere.items) == 3 and front.metadata.resource_version
    core.delete_collection_namespaced_config_map("default", label_selector="suite=sel")
    assert core.list_namespaced_config_map("default", label_selector="suite=sel").items == []


def test_update_with_stale_resource_version_conflicts(kube_client):
    core = client.CoreV1Api(kube_client)
    first = core.create_namespaced_config_map("default", _config_map("race", {}, {"v": "1"}))
    second = core.read_namespaced_config_map("race", "default")
    second.data = {"v": "2"}
    core.replace_namespaced_config_map("race", "default", second)
    first.data = {"v": "stale"}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("race", "default", first)
    assert conflict.value.status == 409 and "the object has been modified" in json.loads(conflict.value.body)["message"]
    assert core.read_namespaced_config_map("race", "default").data == {"v": "2"}


def test_watch_sees_deployment_become_ready(kube_client, kube_server):
    apps = client.AppsV1Api(kube_client)
    labels = {"app": "watched"}
    apps.create_namespaced_deployment("default", client.V1Deployment(
        metadata=client.V1ObjectMeta(name="watched"),
        spec=client.V1DeploymentSpec(
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")])))))
    store = kube_server.store

    def controller():
        if store.wait_for_watch("apps/v1", "Deployment", timeout=20):
            store.set_status("apps/v1", "Deployment", "default", "watched",
                             {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "availableReplicas": 1})
    threading.Thread(target=controller, daemon=True).start()
    seen = []
    stream = watch.Watch()
    for event in stream.stream(apps.list_namespaced_deployment, "default",
                               field_selector="metadata.name=watched", timeout_seconds=20):
        seen.append((event["type"], event["object"].status.ready_replicas))
        if event["object"].status.ready_replicas == 1:
            stream.stop()
    assert seen == [("ADDED", None), ("MODIFIED", 1)]
