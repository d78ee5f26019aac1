"""The local ACME CA signs server certificates that chain to it, with the names as SANs."""
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from coursehub_local.acme_ca import LocalAcmeCa, self_signed


def test_issued_certificates_carry_the_names_and_chain_to_the_ca():
    ca = LocalAcmeCa()
    issued = ca.issue(["a.test", "b.test"])
    leaf, root = x509.load_pem_x509_certificates(issued.chain_pem)
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["a.test", "b.test"]
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    leaf.verify_directly_issued_by(root)
    assert root.public_bytes(serialization.Encoding.PEM) == issued.ca_pem == ca.ca_pem
    assert issued.key_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")  # as cert-manager writes RSA keys
    assert (issued.not_after - issued.not_before).days == 90
    with pytest.raises(ValueError):
        ca.issue([])


def test_each_ca_is_its_own_root():
    first, second = LocalAcmeCa(), LocalAcmeCa()
    leaf = x509.load_pem_x509_certificate(first.issue(["a.test"]).cert_pem)
    with pytest.raises(Exception):
        leaf.verify_directly_issued_by(second.certificate)


def test_self_signed_certificates_name_their_subject():
    cert_pem, key_pem = self_signed("NGINXIngressController")
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.subject == cert.issuer and cert.subject.rfc4514_string() == "CN=NGINXIngressController"
    assert key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
