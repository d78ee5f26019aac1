"""Kubeconfigs come from describe_cluster and live in private files."""
import json
import os
import stat

from chalicelib.kubeconfig import for_cluster, write_private

CLUSTER = {"name": "hub-cs101", "endpoint": "https://example.eks.amazonaws.com",
           "certificateAuthority": {"data": "LS0tLS1CRUdJTi0tLS0t"}}


def test_the_kubeconfig_uses_the_endpoint_ca_and_token():
    config = for_cluster(CLUSTER, "k8s-aws-v1.abc")
    cluster = config["clusters"][0]["cluster"]
    assert cluster == {"server": CLUSTER["endpoint"], "certificate-authority-data": "LS0tLS1CRUdJTi0tLS0t"}
    assert config["users"][0]["user"] == {"token": "k8s-aws-v1.abc"}
    assert config["current-context"] == "hub-cs101"


def test_the_file_is_private(tmp_path):
    path = write_private(for_cluster(CLUSTER, "t"), str(tmp_path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.load(open(path))["users"][0]["user"]["token"] == "t"
