"""Protobuf request bodies and label/field selectors."""
from __future__ import annotations

import base64

import pytest

from coursehub_local.kube.errors import ApiError
from coursehub_local.kube.protobuf import decode
from coursehub_local.kube.selectors import field_selector, label_selector


def _varint(value: int) -> bytes:
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        out += bytes([byte | (0x80 if value else 0)])
        if not value:
            return out


def _field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _field(1, api_version.encode()) + _field(2, kind.encode())
    return b"k8s\x00" + _field(1, type_meta) + _field(2, raw) + _field(3, b"") + _field(4, b"")


def test_decodes_a_config_map():
    meta = (_field(1, b"settings") + _field(3, b"") + _field(8, _field(1, 1700000000))
            + _field(11, _field(1, b"app") + _field(2, b"web")) + _field(14, b"keep"))
    raw = (_field(1, meta) + _field(2, _field(1, b"k") + _field(2, b"v"))
           + _field(3, _field(1, b"bin") + _field(2, b"\x00\x01")) + _field(4, 1))
    assert decode(_envelope("v1", "ConfigMap", raw)) == {
        "apiVersion": "v1", "kind": "ConfigMap", "immutable": True,
        "metadata": {"name": "settings", "creationTimestamp": "2023-11-14T22:13:20Z",
                     "labels": {"app": "web"}, "finalizers": ["keep"]},
        "data": {"k": "v"}, "binaryData": {"bin": base64.b64encode(b"\x00\x01").decode()},
    }


def test_refuses_unknown_kinds_and_fields():
    with pytest.raises(ApiError) as unknown_kind:
        decode(_envelope("apps/v1", "Deployment", _field(1, b"")))
    assert unknown_kind.value.code == 415
    with pytest.raises(ApiError) as unknown_field:
        decode(_envelope("v1", "ConfigMap", _field(9, b"x")))
    assert unknown_field.value.code == 415
    with pytest.raises(ApiError):
        decode(b"{}")


@pytest.mark.parametrize("selector,expected", [
    ("app=web", True), ("app==web", True), ("app!=web", False), ("app in (web,api)", True),
    ("app notin (web)", False), ("tier", False), ("!tier", True), ("app=web,env in (prod)", True),
    ("", True),
])
def test_label_selectors(selector, expected):
    obj = {"metadata": {"labels": {"app": "web", "env": "prod"}}}
    assert label_selector(selector)(obj) is expected


def test_field_selectors():
    obj = {"metadata": {"name": "x", "namespace": "ns"}, "type": "helm.sh/release.v1",
           "status": {"phase": "Running"}}
    assert field_selector("metadata.name=x,metadata.namespace=ns")(obj)
    assert field_selector("type=helm.sh/release.v1,status.phase!=Pending")(obj)
    assert not field_selector("metadata.name=y")(obj)
    with pytest.raises(ApiError):
        field_selector("metadata.name")
