"""Object validation the server performs before storing (a practical subset of kube-apiserver's)."""
from __future__ import annotations

import base64
import binascii
import re

from .catalogue import ResourceType
from .errors import bad_request, invalid
from .selectors import selector_from_match_labels

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_LABEL = re.compile(rf"^{_LABEL}$")
DNS_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

# Kinds whose names are DNS labels rather than subdomains.
_LABEL_NAMED = {"Namespace", "Service"}
# Kinds whose names only need to be valid path segments (e.g. "system:auth-delegator").
_PATH_NAMED = {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
_WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}


def _name_errors(rtype: ResourceType, name: str) -> list[tuple[str, str]]:
    if not name:
        return [("metadata.name", "Required value: name or generateName is required")]
    if rtype.kind in _PATH_NAMED:
        bad = name in (".", "..") or "/" in name or "%" in name
        return [("metadata.name", f'Invalid value: "{name}": may not contain "/" or "%"')] if bad else []
    if rtype.kind in _LABEL_NAMED:
        if len(name) > 63 or not DNS_LABEL.match(name):
            return [("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of '
                     "lower case alphanumeric characters or '-', and must start and end with an alphanumeric character")]
        return []
    if len(name) > 253 or not DNS_SUBDOMAIN.match(name):
        return [("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of '
                 "lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")]
    return []


def _label_errors(labels: dict) -> list[tuple[str, str]]:
    errors = []
    for key, value in (labels or {}).items():
        prefix, _, name = key.rpartition("/")
        if not LABEL_NAME.match(name) or len(name) > 63 or (prefix and not DNS_SUBDOMAIN.match(prefix)):
            errors.append(("metadata.labels", f'Invalid value: "{key}": name part must consist of alphanumeric characters'))
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            errors.append(("metadata.labels", f'Invalid value: "{value}": a valid label must be an empty string or consist of alphanumeric characters'))
    return errors


def _kind_errors(rtype: ResourceType, obj: dict) -> list[tuple[str, str]]:
    spec = obj.get("spec") or {}
    errors = []
    if rtype.kind in ("ConfigMap", "Secret"):
        for field in ("data", "binaryData", "stringData"):
            for key in obj.get(field) or {}:
                if not DATA_KEY.match(key):
                    errors.append((f"{field}[{key}]", f'Invalid value: "{key}": a valid config key must consist of alphanumeric characters, \'-\', \'_\' or \'.\''))
    if rtype.kind in _WORKLOADS and rtype.group == "apps":
        selector = spec.get("selector")
        labels = (((spec.get("template") or {}).get("metadata") or {}).get("labels")) or {}
        if not selector:
            errors.append(("spec.selector", "Required value"))
        elif not selector_from_match_labels(selector)({"metadata": {"labels": labels}}):
            errors.append(("spec.template.metadata.labels", "Invalid value: `selector` does not match template `labels`"))
    if rtype.kind == "Service" and not rtype.group:
        headless = spec.get("clusterIP") == "None" or spec.get("type") == "ExternalName"
        if not spec.get("ports") and not headless:
            errors.append(("spec.ports", "Required value"))
    if rtype.kind == "CustomResourceDefinition":
        names = spec.get("names") or {}
        expected = f"{names.get('plural')}.{spec.get('group')}"
        if obj["metadata"].get("name") != expected:
            errors.append(("metadata.name", f'Invalid value: "{obj["metadata"].get("name")}": must be spec.names.plural+"."+spec.group'))
    return errors


def validate(rtype: ResourceType, obj: dict) -> None:
    """Raise 422 Invalid (or 400 for undecodable data) if the server would reject ``obj``."""
    metadata = obj.get("metadata") or {}
    name = metadata.get("name", "")
    if rtype.kind == "Secret":
        for key, value in (obj.get("data") or {}).items():
            try:
                base64.b64decode(value or "", validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise bad_request(f"Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data for key {key!r}") from None
    errors = _name_errors(rtype, name) + _label_errors(metadata.get("labels")) + _kind_errors(rtype, obj)
    if errors:
        raise invalid(rtype.kind, rtype.group, name, errors)
