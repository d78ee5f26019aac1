"""A hub's public names: nginx-ingress, cert-manager and BinderHub installed with helm 4, reached over verified HTTPS.

The tests run in file order on one cluster: the certificates wait for DNS, then
the records are published and the hub answers through the stack's HTTPS proxy.
"""
import base64
import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest
import requests
import yaml
from cryptography import x509

from coursehub_local.charts import chart_path
from coursehub_local.cluster.certificate_secrets import ACME_SERVER_ANNOTATION
from coursehub.tools import tool_path
from tests.conftest import eventually
from tests.local.cluster.test_cluster_api import active_cluster, add_nodegroup, kubeconfig, kubectl
from tests.local.cluster.test_volumes import ebs_csi

ZONE = "courses.example.edu"
BINDER, HUB = f"binder.{ZONE}", f"hub.binder.{ZONE}"
# Production: its certificates chain to the root in the default bundle (staging ones do not: test_acme_staging.py).
PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
ISSUER = {
    "apiVersion": "cert-manager.io/v1", "kind": "Issuer",
    "metadata": {"name": "letsencrypt-staging", "namespace": "binderhub"},
    "spec": {"acme": {"server": PRODUCTION, "email": f"admin@{ZONE}",
                      "privateKeySecretRef": {"name": "letsencrypt-staging-account"},
                      "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}]}},
}


def ingress_values(host, secret):
    return {"enabled": True, "ingressClassName": "nginx", "hosts": [host],
            "annotations": {"cert-manager.io/issuer": "letsencrypt-staging",
                            # F5 NGINX lets only the oldest Ingress own a host: the solver edits this one
                            "acme.cert-manager.io/http01-edit-in-place": "true"},
            "tls": [{"secretName": secret, "hosts": [host]}]}


BINDERHUB_VALUES = {
    "replicas": 0,  # scaled up by a test, to see 503 while BinderHub has no ready pod
    "service": {"type": "ClusterIP"},
    "ingress": ingress_values(BINDER, "binder-tls"),
    "jupyterhub": {"proxy": {"service": {"type": "ClusterIP"}}, "ingress": ingress_values(HUB, "hub-tls")},
}


class Hub:
    """The cluster and the commands the tests run against it."""

    def __init__(self, stack, tmp_path):
        self.stack, self.tmp = stack, tmp_path
        self.name, described = active_cluster(stack)
        self.config = kubeconfig(tmp_path, stack, described)
        add_nodegroup(stack, self.name, desired=1)
        ebs_csi(stack, self.name)  # the hub's database claim binds as on EKS: through the EBS CSI add-on

    def helm(self, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "HELM_"))}
        env.update(HOME=str(self.tmp), XDG_CACHE_HOME=str(self.tmp / "cache"),
                   XDG_CONFIG_HOME=str(self.tmp / "config"), XDG_DATA_HOME=str(self.tmp / "data"))
        result = subprocess.run([str(tool_path("helm")), "--kubeconfig", str(self.config), *args],
                                capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode == 0, result.stderr

    def install_ingress_and_cert_manager(self):
        """The two charts every hub runs first, and the hub's namespace."""
        self.helm("install", "nginx-ingress", str(chart_path("nginx-ingress")), "-n", "ingress", "--create-namespace")
        self.helm("install", "cert-manager", str(chart_path("cert-manager")), "-n", "cert-manager",
                  "--create-namespace", "--set", "crds.enabled=true")
        kubectl(self.config, "create", "namespace", "binderhub")

    def install_binderhub(self, values):
        """BinderHub with ``values``; the clock moved on until its load balancer and workloads are up."""
        path = self.tmp / "binderhub.yaml"
        path.write_text(yaml.safe_dump(values))
        self.helm("install", "binderhub", str(chart_path("binderhub")), "-n", "binderhub", "-f", str(path))
        timings = self.stack.clusters.timings
        self.stack.clock.advance(max(timings.load_balancer_ready, timings.workload_ready))

    def install_all(self, values):
        """nginx-ingress, cert-manager, the ACME staging Issuer and BinderHub with ``values``; no DNS records yet."""
        self.install_ingress_and_cert_manager()
        kubectl(self.config, "apply", "-f", "-", stdin=json.dumps(ISSUER))
        self.install_binderhub(values)
        eventually(self.ingress_hostname, timeout=15)
        return self

    def get(self, kind, name, namespace="binderhub"):
        result = kubectl(self.config, "get", kind, name, "-n", namespace, "-o", "json", check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def ingress_hostname(self):
        ingress = self.get("ingress", "binderhub") or {}
        return (ingress.get("status", {}).get("loadBalancer", {}).get("ingress") or [{}])[0].get("hostname")


def ready(certificate):
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in (certificate or {}).get("status", {}).get("conditions", []))


def publish(stack, *hosts, target):
    stack.client("route53").change_resource_record_sets(
        HostedZoneId=stack.seeded.hosted_zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": host, "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": target}]}} for host in hosts]})


@pytest.fixture(scope="module")
def hub(stack, tmp_path_factory):
    """nginx-ingress, cert-manager, an ACME staging Issuer and BinderHub installed; no DNS records yet."""
    return Hub(stack, tmp_path_factory.mktemp("hub-https")).install_all(BINDERHUB_VALUES)


def test_certificates_wait_for_dns_then_are_issued_by_the_local_acme_ca(stack, hub):
    stack.clock.advance(60)
    certificate = eventually(lambda: hub.get("certificate", "binder-tls"))
    assert certificate["spec"]["dnsNames"] == [BINDER]
    assert certificate["spec"]["issuerRef"] == {"name": "letsencrypt-staging", "kind": "Issuer",
                                                "group": "cert-manager.io"}
    assert not ready(certificate)

    def pending_challenge():
        items = json.loads(kubectl(hub.config, "get", "challenges", "-n", "binderhub", "-o", "json").stdout)["items"]
        return next((c for c in items if c["spec"]["dnsName"] == BINDER
                         and (c.get("status") or {}).get("state") == "pending"), None)  # a new one has no status yet
    challenge = eventually(pending_challenge)
    assert "no such host" in challenge["status"]["reason"]
    assert f"http://{BINDER}/.well-known/acme-challenge/" in challenge["status"]["reason"]
    assert challenge["spec"]["url"].startswith("https://acme-v02.api.letsencrypt.org/")
    temporary = x509.load_pem_x509_certificate(base64.b64decode(hub.get("secret", "binder-tls")["data"]["tls.crt"]))
    assert temporary.issuer.rfc4514_string() == "CN=cert-manager.local"  # edit in place asks for one

    publish(stack, BINDER, HUB, target=hub.ingress_hostname())
    stack.clock.advance(stack.clusters.timings.certificate_issue + 10)
    for name, host in (("binder-tls", BINDER), ("hub-tls", HUB)):
        certificate = eventually(lambda: ready(c := hub.get("certificate", name)) and c, timeout=15)
        assert certificate["metadata"]["annotations"][ACME_SERVER_ANNOTATION] == PRODUCTION
        secret = hub.get("secret", name)
        assert secret["type"] == "kubernetes.io/tls"
        assert secret["metadata"]["annotations"]["cert-manager.io/alt-names"] == host
        assert secret["metadata"]["annotations"][ACME_SERVER_ANNOTATION] == PRODUCTION
        assert set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
    assert json.loads(kubectl(hub.config, "get", "challenges", "-n", "binderhub", "-o", "json").stdout)["items"] == []


@pytest.fixture(scope="module")
def published(stack, hub):
    """The records exist and both certificates are issued."""
    publish(stack, BINDER, HUB, target=hub.ingress_hostname())
    stack.clock.advance(stack.clusters.timings.certificate_issue + 10)
    for name in ("binder-tls", "hub-tls"):
        eventually(lambda: ready(hub.get("certificate", name)), timeout=15)
    return hub


def test_binderhub_health_is_verified_https_through_the_proxy_and_503_until_ready(stack, published):
    assert os.environ["HTTPS_PROXY"] == stack.details()["https_proxy"]
    assert os.environ["REQUESTS_CA_BUNDLE"] == os.environ["SSL_CERT_FILE"] == stack.details()["ca_bundle"]
    response = requests.get(f"https://{BINDER}/health", timeout=10)
    assert response.status_code == 503  # BinderHub has no ready pod behind the binder Service

    kubectl(published.config, "scale", "deployment", "binder", "-n", "binderhub", "--replicas=1")
    stack.clock.advance(stack.clusters.timings.workload_ready)
    response = eventually(lambda: (r := requests.get(f"https://{BINDER}/health", timeout=10)).status_code == 200 and r)
    assert response.json()["ok"] is True
    assert {c["service"] for c in response.json()["checks"]} == {"Docker registry", "JupyterHub API", "Pod quota"}


def test_jupyterhub_api_answers_with_stock_urllib_and_default_verification(stack, published):
    opener = urllib.request.build_opener()  # reads HTTPS_PROXY now; the default opener may predate the stack
    with opener.open(f"https://{HUB}/hub/api", timeout=10) as response:
        assert response.status == 200
        assert json.loads(response.read())["version"]
    served = x509.load_pem_x509_certificate(base64.b64decode(published.get("secret", "hub-tls")["data"]["tls.crt"]))
    assert served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == [HUB]
    assert served.issuer.rfc4514_string() == "CN=CourseHub local ACME R1,O=CourseHub local stack"  # intermediate


def test_a_name_without_a_record_does_not_connect(stack, published):
    with pytest.raises(requests.exceptions.ProxyError):
        requests.get(f"https://nothing-here.{ZONE}/health", timeout=10)
    with pytest.raises(urllib.error.URLError):
        urllib.request.build_opener().open(f"https://elsewhere.example.org/", timeout=10)


def test_a_host_the_certificate_does_not_cover_fails_verification(stack, published):
    publish(stack, f"other.{ZONE}", target=published.ingress_hostname())
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://other.{ZONE}/health", timeout=10)
    context = ssl.create_default_context()
    assert any(c["subject"] == ((("organizationName", "CourseHub local stack"),),
                                (("commonName", "CourseHub local ACME CA"),))
               for c in context.get_ca_certs())


def test_the_workflow_check_verifies_the_hub_and_names_what_is_wrong(stack, published):
    from chalicelib import https_check

    kubectl(published.config, "scale", "deployment", "binder", "-n", "binderhub", "--replicas=1")
    stack.clock.advance(stack.clusters.timings.workload_ready)

    def verified():
        try:
            return https_check.verify_hub(BINDER, HUB)
        except https_check.HubNotAnswering:
            return None
    result = eventually(verified)
    assert result["binder_url"] == f"https://{BINDER}" and result["jupyterhub_version"]

    publish(stack, f"wrong.{ZONE}", target=published.ingress_hostname())
    # no Ingress serves this name, so nginx answers with its self-signed default certificate
    with pytest.raises(https_check.CertificateRejected, match="self-signed"):
        https_check.check(f"https://wrong.{ZONE}/health")
    with pytest.raises(https_check.HubNotAnswering):
        https_check.check(f"https://missing.{ZONE}/health")
