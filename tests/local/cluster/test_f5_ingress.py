"""The ingress front refuses what F5 NGINX Ingress refuses, and cert-manager's http01 fails and passes as upstream.

One cluster with nginx-ingress, cert-manager and BinderHub whose Ingresses carry none of the F5
annotations (as the product's values did before), and a user's server (ada's pod, as kubespawner makes it);
the tests run in file order and add the annotations one by one, each after seeing what fails without it.
"""
import base64
import hashlib
import http.client
import json
import os
import socket
import ssl
import time

import pytest

from coursehub_local.cluster import nginx_proxy
from coursehub_local.cluster.stand_in_backends import WEBSOCKET_GUID, Response
from tests.conftest import eventually
from tests.local.cluster.test_cluster_api import kubectl
from tests.local.cluster.test_hub_https import ISSUER, Hub, publish, ready
from tests.local.cluster.test_jupyter_servers import start_server

ZONE = "f5.courses.example.edu"  # in the seeded hosted zone
BINDER, HUB = f"binder.{ZONE}", f"hub.binder.{ZONE}"
TOKEN = "ada-server-token"  # the token of ada's server (BinderSpawnerMixin passes it in the pod's args)
PLAIN = {"enabled": True, "ingressClassName": "nginx", "annotations": {"cert-manager.io/issuer": "letsencrypt-staging"}}
VALUES = {
    "service": {"type": "ClusterIP"},
    "ingress": dict(PLAIN, hosts=[BINDER], tls=[{"secretName": "binder-tls", "hosts": [BINDER]}]),
    "jupyterhub": {"proxy": {"service": {"type": "ClusterIP"}},
                   "ingress": dict(PLAIN, hosts=[HUB], tls=[{"secretName": "hub-tls", "hosts": [HUB]}])},
}


class Cluster(Hub):
    """The hub's cluster (as in test_hub_https), with what the F5 tests look for."""

    def items(self, kind):
        return json.loads(kubectl(self.config, "get", kind, "-n", "binderhub", "-o", "json").stdout)["items"]

    def ingress_for(self, host):
        return next(i for i in self.items("ingress")
                    if not i["metadata"]["name"].startswith("cm-acme-http-solver-")
                    and any(r.get("host") == host for r in i["spec"]["rules"]))

    def annotate(self, host, **annotations):
        name = self.ingress_for(host)["metadata"]["name"]
        kubectl(self.config, "annotate", "--overwrite", "ingress", name, "-n", "binderhub",
                *[f"{k}={v}" for k, v in annotations.items()])

    def front(self, port):
        ingress = self.ingress_for(BINDER)
        hostname = (ingress.get("status", {}).get("loadBalancer", {}).get("ingress") or [{}])[0].get("hostname")
        return self.stack.dns.front_for(hostname, port) if hostname else None


def connection(address, host, tls, timeout=10):
    """An HTTP(S) connection to a front that speaks to ``host`` (Host and SNI), trusting any certificate."""
    conn = http.client.HTTPConnection(host, 443 if tls else 80, timeout=timeout)
    sock = socket.create_connection(address, timeout)
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        sock = context.wrap_socket(sock, server_hostname=host)
    conn.sock = sock
    return conn


@pytest.fixture(scope="module")
def cluster(stack, tmp_path_factory):
    """The charts installed, the names published, then (a second later, so the hub's Ingresses are older) the Issuer."""
    cluster = Cluster(stack, tmp_path_factory.mktemp("f5"))
    cluster.install_ingress_and_cert_manager()
    cluster.install_binderhub(VALUES)
    eventually(lambda: cluster.front(443), timeout=15)
    lb = cluster.ingress_for(BINDER)["status"]["loadBalancer"]["ingress"][0]["hostname"]
    publish(stack, BINDER, HUB, target=lb)
    time.sleep(1.1)  # creationTimestamps have whole seconds; F5 breaks ties by uid
    kubectl(cluster.config, "apply", "-f", "-", stdin=json.dumps(ISSUER))
    start_server(cluster.config, stack.clusters.server(cluster.name).store, "ada", TOKEN)
    return cluster


def test_the_solver_ingress_is_rejected_and_the_challenge_stays_pending(stack, cluster):
    def solver_ingress():
        return next((i for i in cluster.items("ingress") if i["metadata"]["name"].startswith("cm-acme-http-solver-")
                     and i["spec"]["rules"][0]["host"] == BINDER), None)
    ingress = eventually(solver_ingress)
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert path["path"].startswith("/.well-known/acme-challenge/") and path["pathType"] == "Exact"
    assert ingress["spec"]["ingressClassName"] == "nginx"

    def rejected():
        return next((e for e in cluster.items("events") if e["involvedObject"]["name"] == ingress["metadata"]["name"]
                     and e["reason"] == "Rejected"), None)
    event = eventually(rejected)
    assert event["type"] == "Warning" and event["message"] == "All hosts are taken by other resources"
    assert event["source"]["component"] == "nginx-ingress-controller"
    assert cluster.get("ingress", ingress["metadata"]["name"]).get("status", {}).get("loadBalancer", {}) == {}

    def pending():
        return next((c for c in cluster.items("challenges") if c["spec"]["dnsName"] == BINDER
                     and "tls" in c.get("status", {}).get("reason", "")), None)
    challenge = eventually(pending)
    token = challenge["spec"]["token"]
    # The request lands on the hub's Ingress, which redirects to HTTPS, whose Secret does not exist yet.
    assert challenge["status"]["state"] == "pending"
    assert challenge["status"]["reason"] == (
        f"Waiting for HTTP-01 challenge propagation: failed to perform self check GET request "
        f"'http://{BINDER}/.well-known/acme-challenge/{token}': "
        f'Get "https://{BINDER}:443/.well-known/acme-challenge/{token}": remote error: tls: unrecognized name')
    stack.clock.advance(stack.clusters.timings.certificate_issue + 10)
    time.sleep(0.5)
    assert not ready(cluster.get("certificate", "binder-tls")) and cluster.get("secret", "binder-tls") is None


def test_plain_http_is_redirected_to_https(stack, cluster):
    conn = connection(cluster.front(80), BINDER, tls=False)
    conn.request("GET", "/health?x=1")
    response = conn.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == f"https://{BINDER}:443/health?x=1"
    assert b"301 Moved Permanently" in response.read()


def test_with_edit_in_place_the_challenge_passes_and_the_solver_cleans_up(stack, cluster):
    cluster.annotate(BINDER, **{"acme.cert-manager.io/http01-edit-in-place": "true"})
    cluster.annotate(HUB, **{"acme.cert-manager.io/http01-edit-in-place": "true"})
    certificate = eventually(lambda: (c := cluster.get("certificate", "binder-tls"))["metadata"].get(
        "annotations", {}).get("acme.cert-manager.io/http01-override-ingress-name") and c)
    assert certificate["metadata"]["annotations"]["cert-manager.io/issue-temporary-certificate"] == "true"
    stack.clock.advance(stack.clusters.timings.certificate_issue + 10)
    for name in ("binder-tls", "hub-tls"):
        eventually(lambda: ready(cluster.get("certificate", name)), timeout=15)
    eventually(lambda: not [o for kind in ("ingress", "service", "pod") for o in cluster.items(kind)
                            if o["metadata"]["name"].startswith("cm-acme-http-solver-")])
    for host in (BINDER, HUB):
        paths = [p["path"] for r in cluster.ingress_for(host)["spec"]["rules"] for p in r["http"]["paths"]]
        assert not [p for p in paths if p.startswith("/.well-known/")]
    assert cluster.items("challenges") == []


def start_kernel(cluster):
    conn = connection(cluster.front(443), HUB, tls=True)
    conn.request("POST", "/user/ada/api/kernels", headers={"Authorization": f"token {TOKEN}"})
    response = conn.getresponse()
    assert response.status == 201
    return json.loads(response.read())["id"]


def kernel_upgrade(cluster, kernel_id):
    conn = connection(cluster.front(443), HUB, tls=True)
    key = base64.b64encode(os.urandom(16)).decode()
    conn.request("GET", f"/user/ada/api/kernels/{kernel_id}/channels", headers={
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13",
        "Authorization": f"token {TOKEN}"})
    response = conn.getresponse()
    return response, key


def test_a_websocket_upgrade_passes_only_for_annotated_services(stack, cluster):
    kernel_id = start_kernel(cluster)
    response, _ = kernel_upgrade(cluster, kernel_id)
    assert response.status == 400  # nginx passed a plain GET: Jupyter's handler refuses it
    assert response.read() == b'Can "Upgrade" only to "WebSocket".'

    service = cluster.ingress_for(HUB)["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
    cluster.annotate(HUB, **{"nginx.org/websocket-services": service})
    response, key = eventually(lambda: (r := kernel_upgrade(cluster, kernel_id))[0].status == 101 and r)
    accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
    assert response.getheader("Sec-WebSocket-Accept") == accept
    assert response.getheader("Upgrade") == "websocket"


def save_notebook(cluster, size):
    conn = connection(cluster.front(443), HUB, tls=True)
    conn.request("PUT", "/user/ada/api/contents/big.ipynb", body=b"x" * size,
                 headers={"Content-Type": "application/json", "Authorization": f"token {TOKEN}"})
    return conn.getresponse()


def test_a_body_over_the_limit_is_refused_with_413(stack, cluster):
    response = save_notebook(cluster, 2 * 1024 * 1024)
    assert response.status == 413 and b"413 Request Entity Too Large" in response.read()
    assert save_notebook(cluster, 1024 * 1024).status == 200  # 1m is allowed

    cluster.annotate(HUB, **{"nginx.org/client-max-body-size": "64m"})
    response = eventually(lambda: (r := save_notebook(cluster, 2 * 1024 * 1024)).status == 200 and r)
    assert json.loads(response.read())["size"] == 2 * 1024 * 1024


def first_bytes_of_build_stream(cluster, within):
    conn = connection(cluster.front(443), BINDER, tls=True, timeout=within)
    conn.request("GET", "/build/gh/org/repo/HEAD", headers={"Accept": "text/event-stream"})
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream"
    try:
        return response.fp.readline()
    except (TimeoutError, socket.timeout):
        return None


def test_a_buffered_event_stream_stalls_until_buffering_is_off(stack, cluster):
    kubectl(cluster.config, "scale", "deployment", "binder", "-n", "binderhub", "--replicas=1")
    stack.clock.advance(stack.clusters.timings.workload_ready)
    eventually(lambda: get(cluster, BINDER, "/health").status == 200)
    # Buffered, the first events wait for the buffer (4 KiB); BinderHub's keepalives every 25 s keep nginx's read
    # timeout from ending the connection, so the client just gets nothing.
    assert first_bytes_of_build_stream(cluster, within=2) is None

    cluster.annotate(BINDER, **{"nginx.org/proxy-buffering": "false", "nginx.org/proxy-read-timeout": "3600s"})
    line = eventually(lambda: first_bytes_of_build_stream(cluster, within=2))
    assert json.loads(line.removeprefix(b"data: "))["phase"] == "waiting"


def get(cluster, host, path):
    conn = connection(cluster.front(443), host, tls=True)
    conn.request("GET", path)
    return conn.getresponse()


def test_an_upstream_slower_than_the_read_timeout_gets_504(stack, cluster, monkeypatch):
    monkeypatch.setattr(nginx_proxy, "respond", lambda *args: Response(200, header_delay=45))
    assert get(cluster, HUB, "/hub/api").status == 200  # 45 s is within the default 60 s
    cluster.annotate(HUB, **{"nginx.org/proxy-read-timeout": "30s"})
    response = eventually(lambda: (r := get(cluster, HUB, "/hub/api")).status == 504 and r)
    assert b"504 Gateway Time-out" in response.read()
