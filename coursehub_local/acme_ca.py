"""The local stack's ACME certificate authority: what Let's Encrypt is to a hub on AWS.

One CA per stack. The cert-manager stand-in has it sign a certificate once the
http01 self check passes; the stack adds the CA to the bundle that
``SSL_CERT_FILE`` and ``REQUESTS_CA_BUNDLE`` name, so stock HTTPS clients
verify hub certificates for real. Validity is in real time, because clients
check it against the real clock.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "CourseHub local ACME CA"
LEAF_DAYS = 90  # Let's Encrypt's certificate lifetime
PEM = serialization.Encoding.PEM


@dataclass(frozen=True)
class IssuedCertificate:
    """A signed leaf: its PEM, the chain to serve (leaf then CA), its key (PKCS#1, as cert-manager writes RSA keys)."""

    cert_pem: bytes
    chain_pem: bytes
    key_pem: bytes
    ca_pem: bytes
    not_before: datetime.datetime
    not_after: datetime.datetime


def _key_usage(**allowed: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{name: allowed.get(name, False) for name in names})


class LocalAcmeCa:
    """A self-signed root that signs server certificates for DNS names."""

    def __init__(self, name: str = CA_NAME):
        now = datetime.datetime.now(datetime.timezone.utc)
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CourseHub local stack"),
                             x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_pem = self.certificate.public_bytes(PEM)

    def issue(self, dns_names: list[str], days: int = LEAF_DAYS) -> IssuedCertificate:
        """Sign a new RSA-2048 key (cert-manager's default) for ``dns_names``, the first also as common name."""
        if not dns_names:
            raise ValueError("a certificate needs at least one DNS name")
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        not_before, not_after = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True, key_encipherment=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(PEM)
        key_pem = key.private_bytes(PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
        return IssuedCertificate(cert_pem, cert_pem + self.ca_pem, key_pem, self.ca_pem, not_before, not_after)


def self_signed(common_name: str, days: int = 365) -> tuple[bytes, bytes]:
    """A throwaway self-signed certificate and key (PEM), like an ingress controller's default certificate."""
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(PEM), key.private_bytes(PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption())
