"""A helm/kubectl runner for one EKS cluster, with a fresh token in a private kubeconfig that is deleted afterwards."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from typing import Iterator

from chalicelib.eks_token import get_token
from chalicelib.errors import ClusterUnavailable
from chalicelib.kubeconfig import for_cluster, write_private
from chalicelib.runner import Runner


@contextmanager
def cluster_session(eks_client, sts_client, cluster_name: str, *, bin_dir: str, timeout: float,
                    work_dir: str | None = None) -> Iterator[Runner]:
    """Describe the cluster, write a kubeconfig with a new EKS token (valid 15 min), yield a Runner, clean up."""
    try:
        cluster = eks_client.describe_cluster(name=cluster_name)["cluster"]
    except eks_client.exceptions.ResourceNotFoundException:
        raise ClusterUnavailable(f"EKS cluster {cluster_name} does not exist") from None
    if cluster.get("status") != "ACTIVE" or not cluster.get("endpoint"):
        raise ClusterUnavailable(f"EKS cluster {cluster_name} is {cluster.get('status')}, not ACTIVE")
    # One private (0700) folder holds the kubeconfig, HOME, the tool caches and values files: one rmtree clears all.
    directory = tempfile.mkdtemp(prefix="coursehub-kube-", dir=work_dir)
    try:
        kubeconfig_path = write_private(for_cluster(cluster, get_token(sts_client, cluster_name)), directory)
        home = os.path.join(directory, "home")
        os.mkdir(home, 0o700)
        yield Runner(bin_dir, kubeconfig_path, timeout, home=home)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
