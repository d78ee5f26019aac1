"""Patch semantics: JSON merge, strategic merge (keys and directives), JSON patch, server-side apply."""
from __future__ import annotations

import pytest

from coursehub_local.kube.apply import fieldset, server_side_apply
from coursehub_local.kube.errors import ApiError
from coursehub_local.kube.patch import json_merge_patch, json_patch, strategic_merge_patch

POD_SPEC = {"spec": {"containers": [
    {"name": "a", "image": "a:1", "ports": [{"containerPort": 80, "name": "http"}],
     "env": [{"name": "X", "value": "1"}]},
    {"name": "b", "image": "b:1"}]}}


def test_json_merge_patch_replaces_lists_and_deletes_nulls():
    assert json_merge_patch({"a": 1, "b": {"c": 2, "d": 3}, "l": [1, 2]},
                            {"a": None, "b": {"c": 9}, "l": [3]}) == {"b": {"c": 9, "d": 3}, "l": [3]}


def test_strategic_merge_merges_containers_env_and_ports_by_key():
    patched = strategic_merge_patch(POD_SPEC, {"spec": {"containers": [
        {"name": "a", "image": "a:2", "env": [{"name": "Y", "value": "2"}],
         "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}})
    first = patched["spec"]["containers"][0]
    assert [c["name"] for c in patched["spec"]["containers"]] == ["a", "b"]
    assert first["image"] == "a:2" and [e["name"] for e in first["env"]] == ["X", "Y"]
    assert first["ports"] == [{"containerPort": 80, "name": "http", "protocol": "TCP"}]


def test_strategic_merge_directives():
    deleted = strategic_merge_patch(POD_SPEC, {"spec": {"containers": [{"name": "b", "$patch": "delete"}]}})
    assert [c["name"] for c in deleted["spec"]["containers"]] == ["a"]
    replaced = strategic_merge_patch(POD_SPEC, {"spec": {"$patch": "replace", "containers": []}})
    assert replaced == {"spec": {"containers": []}}
    retained = strategic_merge_patch({"s": {"type": "A", "a": 1, "b": 2}},
                                     {"s": {"$retainKeys": ["type", "b"], "type": "B"}})
    assert retained == {"s": {"type": "B", "b": 2}}
    finalizers = strategic_merge_patch({"metadata": {"finalizers": ["x", "y"]}},
                                       {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"],
                                                     "$setElementOrder/finalizers": ["y"]}})
    assert finalizers == {"metadata": {"finalizers": ["y"]}}


def test_json_patch_operations_and_failed_test():
    doc = {"a": {"b": [1, 2]}, "c": 1}
    ops = [{"op": "add", "path": "/a/b/-", "value": 3}, {"op": "replace", "path": "/c", "value": 2},
           {"op": "copy", "from": "/c", "path": "/d"}, {"op": "move", "from": "/d", "path": "/e"},
           {"op": "remove", "path": "/a/b/0"}, {"op": "test", "path": "/e", "value": 2}]
    assert json_patch(doc, ops) == {"a": {"b": [2, 3]}, "c": 2, "e": 2}
    with pytest.raises(ApiError) as failed:
        json_patch(doc, [{"op": "test", "path": "/c", "value": 5}])
    assert failed.value.code == 422
    with pytest.raises(ApiError):
        json_patch(doc, [{"op": "replace", "path": "/missing", "value": 1}])


def test_server_side_apply_prunes_only_its_own_dropped_fields():
    first = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}},
             "data": {"x": "1", "y": "2"}}
    live = server_side_apply(None, first, "helm", "now")
    assert fieldset(first)["f:data"] == {"f:x": {}, "f:y": {}}
    # Another manager also sets "y": it must survive helm dropping it.
    live = server_side_apply(live, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                                    "data": {"y": "2", "z": "3"}}, "other", "now")
    second = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"w": "4"}}
    live = server_side_apply(live, second, "helm", "now")
    assert live["data"] == {"y": "2", "z": "3", "w": "4"}
    assert "labels" not in live["metadata"] or live["metadata"]["labels"] == {}
    assert [e["manager"] for e in live["metadata"]["managedFields"]] == ["other", "helm"]


def test_server_side_apply_merges_keyed_lists():
    live = server_side_apply(None, POD_SPEC, "m", "now")
    changed = {"spec": {"containers": [{"name": "a", "image": "a:2"}]}}
    live = server_side_apply(live, changed, "m", "now")
    assert live["spec"]["containers"] == [{"name": "a", "image": "a:2"}]
