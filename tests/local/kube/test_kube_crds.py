"""CustomResourceDefinitions add their group to discovery and serve custom resources."""
from __future__ import annotations

import json

import pytest
import requests
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

# A trimmed cert-manager v1 Certificate CRD (the real one carries a full schema).
CERTIFICATE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "certificates.cert-manager.io"},
    "spec": {
        "group": "cert-manager.io", "scope": "Namespaced",
        "names": {"kind": "Certificate", "listKind": "CertificateList", "plural": "certificates",
                  "singular": "certificate", "shortNames": ["cert", "certs"], "categories": ["cert-manager"]},
        "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                      "schema": {"openAPIV3Schema": {"type": "object",
                                                     "x-kubernetes-preserve-unknown-fields": True}}}],
    },
}
CERTIFICATE = {
    "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
    "metadata": {"name": "hub-tls", "namespace": "default", "labels": {"hub": "demo"}},
    "spec": {"secretName": "hub-tls", "dnsNames": ["hub.example.org"], "issuerRef": {"name": "letsencrypt"}},
}


def _api_get(server, path: str, ca_file, accept: str = "application/json") -> requests.Response:
    return requests.get(server.endpoint + path, verify=str(ca_file), timeout=10,
                        headers={"Authorization": "Bearer t", "Accept": accept})


@pytest.fixture(scope="module")
def ca_file(kube_server, kube_home):
    path = kube_home / "ca.crt"
    path.write_bytes(kube_server.ca_pem)
    return path


def test_applying_a_crd_adds_its_group_to_discovery(kubectl, kube_server, ca_file):
    assert kubectl.run("get", "certificates").returncode != 0
    kubectl.ok("apply", "-f", "-", stdin=yaml.safe_dump(CERTIFICATE_CRD))
    crd = json.loads(kubectl.ok("get", "crd", "certificates.cert-manager.io", "-o", "json"))
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]}["Established"] == "True"
    kubectl.ok("wait", "--for=condition=Established", "crd/certificates.cert-manager.io", "--timeout=10s")

    groups = _api_get(kube_server, "/apis", ca_file).json()
    assert "cert-manager.io" in [g["name"] for g in groups["groups"]]
    resources = _api_get(kube_server, "/apis/cert-manager.io/v1", ca_file).json()
    assert [r["name"] for r in resources["resources"]] == ["certificates", "certificates/status"]
    aggregated = _api_get(kube_server, "/apis", ca_file,
                          "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
    assert aggregated.headers["Content-Type"].startswith("application/json;g=apidiscovery.k8s.io;v=v2")
    assert "cert-manager.io" in [i["metadata"]["name"] for i in aggregated.json()["items"]]
    assert "No resources found" in kubectl.run("get", "certificates").stderr


def test_custom_resources_can_be_created_listed_and_read(kubectl, kube_client):
    kubectl.ok("apply", "-f", "-", stdin=yaml.safe_dump(CERTIFICATE))
    assert "hub-tls" in kubectl.ok("get", "certs")
    custom = client.CustomObjectsApi(kube_client)
    second = dict(CERTIFICATE, metadata={"name": "other-tls", "namespace": "default"})
    custom.create_namespaced_custom_object("cert-manager.io", "v1", "default", "certificates", second)
    listed = custom.list_namespaced_custom_object("cert-manager.io", "v1", "default", "certificates")
    assert listed["kind"] == "CertificateList"
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == ["hub-tls", "other-tls"]
    labelled = custom.list_namespaced_custom_object("cert-manager.io", "v1", "default", "certificates",
                                                    label_selector="hub=demo")
    assert [i["metadata"]["name"] for i in labelled["items"]] == ["hub-tls"]
    got = custom.get_namespaced_custom_object("cert-manager.io", "v1", "default", "certificates", "hub-tls")
    assert got["spec"]["dnsNames"] == ["hub.example.org"] and got["metadata"]["generation"] == 1
    custom.patch_namespaced_custom_object_status(
        "cert-manager.io", "v1", "default", "certificates", "hub-tls",
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    kubectl.ok("wait", "--for=condition=Ready", "certificate/hub-tls", "--timeout=10s")
    kubectl.ok("patch", "certificate", "hub-tls", "--type=merge", "-p", '{"spec":{"dnsNames":["a.example.org"]}}')
    got = custom.get_namespaced_custom_object("cert-manager.io", "v1", "default", "certificates", "hub-tls")
    assert got["spec"]["dnsNames"] == ["a.example.org"] and got["status"]["conditions"][0]["type"] == "Ready"


def test_deleting_the_crd_removes_its_resources_and_group(kubectl, kube_client, kube_server, ca_file):
    kubectl.ok("delete", "crd", "certificates.cert-manager.io")
    groups = _api_get(kube_server, "/apis", ca_file).json()
    assert "cert-manager.io" not in [g["name"] for g in groups["groups"]]
    with pytest.raises(ApiException) as gone:
        client.CustomObjectsApi(kube_client).list_namespaced_custom_object(
            "cert-manager.io", "v1", "default", "certificates")
    assert gone.value.status == 404
