"""The local ACME CA signs server certificates that chain to it, with the names as SANs: under its staging root
for Let's Encrypt's staging directory, which the default bundle lacks, as trust stores lack Let's Encrypt's."""
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from coursehub_local.acme_ca import LocalAcmeCa, self_signed
from coursehub_local.https_proxy import write_ca_bundle


def test_issued_certificates_carry_the_names_and_chain_to_the_ca():
    ca = LocalAcmeCa()
    issued = ca.issue(["a.test", "b.test"])
    leaf, intermediate = x509.load_pem_x509_certificates(issued.chain_pem)  # as an ACME server returns it
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["a.test", "b.test"]
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    leaf.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(ca.certificate)
    assert ca.certificate.public_bytes(serialization.Encoding.PEM) == issued.ca_pem == ca.ca_pem
    assert ca.ca_pem not in issued.chain_pem
    assert issued.key_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")  # as cert-manager writes RSA keys
    assert (issued.not_after - issued.not_before).days == 90
    with pytest.raises(ValueError):
        ca.issue([])


def test_each_ca_is_its_own_root():
    first, second = LocalAcmeCa(), LocalAcmeCa()
    _, intermediate = x509.load_pem_x509_certificates(first.issue(["a.test"]).chain_pem)
    with pytest.raises(Exception):
        intermediate.verify_directly_issued_by(second.certificate)


def test_self_signed_certificates_name_their_subject():
    cert_pem, key_pem = self_signed("NGINXIngressController")
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.subject == cert.issuer and cert.subject.rfc4514_string() == "CN=NGINXIngressController"
    assert key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")


STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"


def issuer_cn(issued):
    return x509.load_pem_x509_certificate(issued.cert_pem).issuer.get_attributes_for_oid(
        x509.oid.NameOID.COMMON_NAME)[0].value


def test_a_staging_directory_signs_under_the_staging_root_like_lets_encrypt():
    ca = LocalAcmeCa()
    staging, production = ca.issue(["a.test"], server=STAGING), ca.issue(["a.test"], server=PRODUCTION)
    assert issuer_cn(staging) == "(STAGING) CourseHub local Wannabe Watercress R1"
    assert issuer_cn(production) == "CourseHub local ACME R1"
    assert staging.ca_pem == ca.staging_ca_pem and production.ca_pem == ca.ca_pem
    assert ca.staging_certificate.subject.rfc4514_string() == (
        "CN=(STAGING) CourseHub local Pretend Pear,O=(STAGING) CourseHub local stack")
    assert ca.staging_ca_pem != ca.ca_pem
    _, intermediate = x509.load_pem_x509_certificates(staging.chain_pem)
    intermediate.verify_directly_issued_by(ca.staging_certificate)
    with pytest.raises(Exception):
        intermediate.verify_directly_issued_by(ca.certificate)


def serve_once(issued, tmp_path):
    """A TLS server on loopback that presents ``issued`` to one client; returns its port."""
    (tmp_path / "chain.pem").write_bytes(issued.chain_pem)
    (tmp_path / "key.pem").write_bytes(issued.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "chain.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))

    def accept():
        connection, _ = listener.accept()
        try:
            with context.wrap_socket(connection, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass  # the client refused the certificate
        finally:
            listener.close()
    threading.Thread(target=accept, daemon=True).start()
    return listener.getsockname()[1]


def handshake(port, cafile, host="a.test"):
    context = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            return tls.getpeercert()["subject"]


def test_the_default_bundle_holds_only_the_production_root_so_a_staging_certificate_is_rejected(tmp_path):
    ca = LocalAcmeCa()
    bundle = write_ca_bundle(tmp_path / "ca", ca.ca_pem)  # what the stack's ca_bundle holds
    staging_roots = tmp_path / "staging.pem"
    staging_roots.write_bytes(ca.staging_ca_pem)
    assert ca.staging_ca_pem not in bundle.read_bytes()

    assert handshake(serve_once(ca.issue(["a.test"], server=PRODUCTION), tmp_path), bundle)
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer certificate"):
        handshake(serve_once(ca.issue(["a.test"], server=STAGING), tmp_path), bundle)
    assert handshake(serve_once(ca.issue(["a.test"], server=STAGING), tmp_path), staging_roots)
