"""The CONNECT proxy and CA bundle: stock clients reach a resolved name's HTTPS front and verify the local ACME CA."""
import os
import socket
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import certifi
import pytest
import requests
from cryptography import x509

from coursehub_local.acme_ca import CA_NAME, LocalAcmeCa, self_signed
from coursehub_local.https_proxy import HttpsConnectProxy, client_environment, write_ca_bundle


class FakeDns:
    """resolve/front_for as LocalDns answers them, from a table."""

    def __init__(self, names, fronts):
        self.names, self.fronts = names, fronts

    def resolve(self, host):
        return self.names.get(host)

    def front_for(self, load_balancer):
        return self.fronts.get(load_balancer)


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello {self.headers['Host']}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def tls_server(cert_pem, key_pem):
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "c").write_bytes(cert_pem)
        Path(tmp, "k").write_bytes(key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(Path(tmp, "c"), Path(tmp, "k"))
    server = HTTPServer(("127.0.0.1", 0), Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def ca():
    return LocalAcmeCa()


@pytest.fixture
def world(ca, tmp_path):
    """hub.test -> lb-1 -> an HTTPS server with a certificate from the local CA; fake.test -> a self-signed one."""
    issued = ca.issue(["hub.test"])
    good = tls_server(issued.chain_pem, issued.key_pem)
    bad = tls_server(*self_signed("fake.test"))
    dns = FakeDns({"hub.test": "lb-1", "fake.test": "lb-2", "dark.test": "lb-3"},
                  {"lb-1": good.server_address, "lb-2": bad.server_address})
    proxy = HttpsConnectProxy(dns).start()
    bundle = write_ca_bundle(tmp_path, ca.ca_pem)
    session = requests.Session()
    session.trust_env = False
    session.proxies = {"https": proxy.url}
    session.verify = str(bundle)
    yield session, proxy
    proxy.stop()
    good.shutdown()
    bad.shutdown()


def test_a_resolved_name_is_tunnelled_and_verified_against_the_local_ca(world):
    session, _ = world
    response = session.get("https://hub.test/anything", timeout=5)
    assert response.status_code == 200 and response.text == "hello hub.test"


def test_a_certificate_from_elsewhere_fails_verification(world):
    session, _ = world
    with pytest.raises(requests.exceptions.SSLError):
        session.get("https://fake.test/", timeout=5)


@pytest.mark.parametrize("url", ["https://nowhere.test/", "https://dark.test/", "https://hub.test:8443/"])
def test_no_such_host_no_front_or_another_port_is_a_502(world, url):
    session, _ = world
    with pytest.raises(requests.exceptions.ProxyError, match="502"):
        session.get(url, timeout=5)


def test_only_connect_is_served(world):
    _, proxy = world
    host, port = proxy.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET http://hub.test/ HTTP/1.1\r\nHost: hub.test\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 405")


def test_the_bundle_is_certifi_plus_the_local_ca_and_the_environment_names_it(ca, tmp_path):
    bundle = write_ca_bundle(tmp_path / "ca", ca.ca_pem)
    text, certifi_text = bundle.read_bytes(), Path(certifi.where()).read_bytes()
    assert text.startswith(certifi_text.rstrip()) and text.endswith(ca.ca_pem)
    assert text.count(b"BEGIN CERTIFICATE") == certifi_text.count(b"BEGIN CERTIFICATE") + 1
    assert x509.load_pem_x509_certificate(ca.ca_pem).subject.rfc4514_string() == f"CN={CA_NAME},O=CourseHub local stack"
    env = client_environment("http://127.0.0.1:1234", bundle)
    assert env["HTTPS_PROXY"] == env["https_proxy"] == "http://127.0.0.1:1234"
    assert env["NO_PROXY"] == "127.0.0.1,localhost"
    assert env["SSL_CERT_FILE"] == env["REQUESTS_CA_BUNDLE"] == str(bundle)
    assert os.path.isfile(env["SSL_CERT_FILE"])

