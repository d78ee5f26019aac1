"""Request bodies by Content-Type: JSON, YAML and Kubernetes protobuf."""
from __future__ import annotations

import json

import yaml

from . import protobuf
from .errors import bad_request, unsupported_media_type

PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
_JSON_TYPES = {"application/json", "", "*/*", JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH}
_YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", APPLY_PATCH}


class _NoTimestampLoader(yaml.SafeLoader):
    """YAML 1.1 loader that keeps dates as strings, as sigs.k8s.io/yaml does via JSON."""


_NoTimestampLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def media_type(content_type: str | None) -> str:
    """The bare media type, without parameters, lower-cased."""
    return (content_type or "").split(";")[0].strip().lower()


def decode(body: bytes, content_type: str | None) -> object:
    """Decode a request body; 415 for encodings the server does not read."""
    kind = media_type(content_type)
    if kind == PROTOBUF:
        try:
            return protobuf.decode(body, kind)
        except (ValueError, IndexError, UnicodeDecodeError) as exc:
            raise bad_request(f"unable to decode protobuf body: {exc}") from None
    if kind in _JSON_TYPES or kind in _YAML_TYPES:
        if not body.strip():
            return None
        try:
            return json.loads(body)
        except ValueError:
            if kind not in _YAML_TYPES:
                raise bad_request("the request body is not valid JSON") from None
        try:
            return yaml.load(body, Loader=_NoTimestampLoader)
        except yaml.YAMLError as exc:
            raise bad_request(f"the request body is not valid YAML: {exc}") from None
    raise unsupported_media_type(content_type or "")


def decode_object(body: bytes, content_type: str | None) -> dict:
    """Decode a body that must be one object."""
    obj = decode(body, content_type)
    if not isinstance(obj, dict):
        raise bad_request("the request body must be an object")
    return obj
