"""Kubeconfigs for EKS clusters, built from ``describe_cluster`` and an EKS token, kept in private files."""
from __future__ import annotations

import json
import os
import tempfile


def for_cluster(cluster: dict, token: str) -> dict:
    """A kubeconfig for ``describe_cluster(...)["cluster"]``, authenticating with ``token``."""
    name = cluster["name"]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": name,
        "clusters": [{"name": name, "cluster": {
            "server": cluster["endpoint"],
            "certificate-authority-data": cluster["certificateAuthority"]["data"],
        }}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
    }


def write_private(config: dict, directory: str | None = None) -> str:
    """Write ``config`` to a new file readable only by this user (0600); returns its path."""
    handle, path = tempfile.mkstemp(prefix="kubeconfig-", suffix=".json", dir=directory)
    with os.fdopen(handle, "w") as out:  # mkstemp creates the file with mode 0600
        json.dump(config, out)
    return path
