"""EKS bearer tokens: only a fresh token signed for this cluster gets in."""
from __future__ import annotations

import base64
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests

from chalicelib.eks_token import get_token
from coursehub_local.kube.auth import decode_token, make_eks_token_verifier
from chalicelib.kubeconfig import write_private
from coursehub_local.kube.server import KubeApiServer
from coursehub.tools import tool_path

CLUSTER = "hub-eu"
CREDENTIALS = {"testing": "testing-secret"}


class Clock:
    """A settable clock for the verifier, so expiry needs no sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def sts():
    # The AWS endpoint, even when a local stack in this process set AWS_ENDPOINT_URL.
    return boto3.client("sts", region_name="eu-west-1", endpoint_url="https://sts.eu-west-1.amazonaws.com",
                        aws_access_key_id="testing",
                        aws_secret_access_key="testing-secret", aws_session_token="session")


@pytest.fixture(scope="module")
def clock():
    return Clock()


@pytest.fixture(scope="module")
def secured(clock, tmp_path_factory):
    verifier = make_eks_token_verifier(CLUSTER, CREDENTIALS.get, now=clock)
    server = KubeApiServer(cluster_name=CLUSTER, verify_token=verifier).start()
    ca = tmp_path_factory.mktemp("auth") / "ca.crt"
    ca.write_bytes(server.ca_pem)
    yield server, ca
    server.stop()


def _get(secured, token: str | None) -> requests.Response:
    server, ca = secured
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.get(f"{server.endpoint}/api/v1/namespaces", headers=headers, verify=str(ca), timeout=10)


def test_token_is_a_presigned_sts_url_that_signs_the_cluster_name(sts):
    token = get_token(sts, CLUSTER)
    assert token.startswith("k8s-aws-v1.") and "=" not in token
    url = urlsplit(decode_token(token))
    query = parse_qs(url.query)
    assert url.hostname.startswith("sts.") and query["Action"] == ["GetCallerIdentity"]
    assert query["X-Amz-SignedHeaders"] == ["host;x-k8s-aws-id"] and query["X-Amz-Expires"] == ["60"]
    # Repeated calls must not pile up event handlers on the shared client (botocore's private
    # lookup cache is the only place that lists them).
    get_token(sts, "another")
    handlers = sts.meta.events._emitter._lookup_cache["before-sign.sts.GetCallerIdentity"]
    assert [h.__name__ for h in handlers] == ["_inject_cluster_id_header"]


def test_good_token_is_accepted(secured, sts):
    response = _get(secured, get_token(sts, CLUSTER))
    assert response.status_code == 200 and response.json()["kind"] == "NamespaceList"


@pytest.mark.parametrize("token", [None, "", "not-a-token", "k8s-aws-v1.aGVsbG8"])
def test_missing_or_malformed_token_is_unauthorized(secured, token):
    response = _get(secured, token)
    assert response.status_code == 401
    assert response.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def test_token_for_another_cluster_is_unauthorized(secured, sts):
    assert _get(secured, get_token(sts, "some-other-cluster")).status_code == 401


def test_token_signed_with_the_wrong_secret_is_unauthorized(secured):
    forged = boto3.client("sts", region_name="eu-west-1", endpoint_url="https://sts.eu-west-1.amazonaws.com",
                          aws_access_key_id="testing",
                          aws_secret_access_key="guessed")
    assert _get(secured, get_token(forged, CLUSTER)).status_code == 401


def test_a_token_is_good_for_15_minutes_as_on_eks(secured, sts, clock):
    token = get_token(sts, CLUSTER)
    clock.now = time.time() + 14 * 60
    try:
        assert _get(secured, token).status_code == 200
        clock.now = time.time() + 15 * 60 + 5
        assert _get(secured, token).status_code == 401
    finally:
        clock.now = time.time()
    assert _get(secured, token).status_code == 200


def test_tampered_token_is_unauthorized(secured, sts):
    url = decode_token(get_token(sts, CLUSTER)).replace("X-Amz-Expires=60", "X-Amz-Expires=900")
    tampered = "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    assert _get(secured, tampered).status_code == 401


def test_kubectl_with_an_eks_token(secured, sts, tmp_path):
    server, _ = secured
    kubeconfig = Path(write_private(server.kubeconfig(get_token(sts, CLUSTER)), str(tmp_path)))
    assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
    env = {"HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([str(tool_path("kubectl", "v35")), "get", "namespaces", "-o", "name"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "namespace/default" in result.stdout.split()
