"""Kubeconfig files for a local API server: inline CA data and a bearer token."""
from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml


def kubeconfig_dict(cluster_name: str, endpoint: str, ca_pem: bytes, token: str,
                    namespace: str = "default") -> dict:
    """The kubeconfig document for one cluster, user and context."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {
            "server": endpoint, "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": cluster_name, "user": {"token": token}}],
        "contexts": [{"name": cluster_name, "context": {
            "cluster": cluster_name, "user": cluster_name, "namespace": namespace}}],
        "current-context": cluster_name,
        "preferences": {},
    }


def kubeconfig_yaml(cluster_name: str, endpoint: str, ca_pem: bytes, token: str, namespace: str = "default") -> str:
    """The kubeconfig as YAML text."""
    return yaml.safe_dump(kubeconfig_dict(cluster_name, endpoint, ca_pem, token, namespace), sort_keys=False)


def write_kubeconfig(path: str | Path, text: str) -> Path:
    """Write a kubeconfig readable by its owner only (helm warns about, and leaks, wider modes)."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)
    return path
