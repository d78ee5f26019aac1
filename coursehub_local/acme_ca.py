"""The local stack's ACME certificate authority: what Let's Encrypt is to a hub on AWS.

One CA per stack, with two roots as Let's Encrypt has: production and staging.
The cert-manager stand-in has it sign a certificate once the http01 self check
passes, under the staging root when the Issuer's ACME server is Let's Encrypt's
staging directory, else under the production root. Let's Encrypt's staging
certificates chain to roots that no trust store holds ("(STAGING) Pretend Pear
X1", "(STAGING) Bogus Broccoli X2"; letsencrypt.org/docs/staging-environment),
so the stack adds only the production root to the bundle that ``SSL_CERT_FILE``
and ``REQUESTS_CA_BUNDLE`` name (stock HTTPS clients verify production hub
certificates for real and reject staging ones) and writes the staging root to
a file of its own. Validity is in real time, because clients check it against
the real clock.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "CourseHub local ACME CA"
STAGING_CA_NAME = "(STAGING) CourseHub local Pretend Pear"  # named as Let's Encrypt names its staging roots
# Let's Encrypt's staging ACME directory (letsencrypt.org/docs/staging-environment): what it issues is staging.
STAGING_HOSTS = ("acme-staging-v02.api.letsencrypt.org",)
LEAF_DAYS = 90  # Let's Encrypt's certificate lifetime
PEM = serialization.Encoding.PEM


@dataclass(frozen=True)
class IssuedCertificate:
    """A signed leaf: its PEM, the chain to serve (leaf then intermediate, as an ACME server returns it), its key
    (PKCS#1, as cert-manager writes RSA keys) and the root it chains to."""

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


def _ca(name: str, organization: str, key, issuer: x509.Certificate | None = None, issuer_key=None,
        path_length: int | None = None) -> x509.Certificate:
    """A CA certificate for ``key``: self-signed without ``issuer``, else signed by it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


class _Hierarchy:
    """A self-signed root and the intermediate that signs leaves, as Let's Encrypt's roots have (ISRG Root X1 and
    R10, or "(STAGING) Pretend Pear X1" and "(STAGING) Wannabe Watercress R11"): a server sends the leaf and the
    intermediate; the client's trust store must hold the root."""

    def __init__(self, root_name: str, intermediate_name: str, organization: str):
        root_key, self.key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        self.root = _ca(root_name, organization, root_key)
        self.intermediate = _ca(intermediate_name, organization, self.key, self.root, root_key, path_length=0)
        self.root_pem, self.intermediate_pem = self.root.public_bytes(PEM), self.intermediate.public_bytes(PEM)


def is_staging(server: str) -> bool:
    """Whether ``server`` (an Issuer's ``spec.acme.server``) is a staging ACME directory."""
    return (urlsplit(server or "").hostname or "") in STAGING_HOSTS


class LocalAcmeCa:
    """Two self-signed roots, production and staging, whose intermediates sign server certificates for DNS names."""

    def __init__(self, name: str = CA_NAME, staging_name: str = STAGING_CA_NAME):
        self._production = _Hierarchy(name, "CourseHub local ACME R1", "CourseHub local stack")
        self._staging = _Hierarchy(staging_name, "(STAGING) CourseHub local Wannabe Watercress R1",
                                   "(STAGING) CourseHub local stack")
        self.certificate, self.ca_pem = self._production.root, self._production.root_pem
        self.staging_certificate, self.staging_ca_pem = self._staging.root, self._staging.root_pem

    def issue(self, dns_names: list[str], days: int = LEAF_DAYS, server: str = "") -> IssuedCertificate:
        """Sign a new RSA-2048 key (cert-manager's default) for ``dns_names``, the first also as common name,
        under the staging root when ``server`` is a staging ACME directory, else under the production root."""
        if not dns_names:
            raise ValueError("a certificate needs at least one DNS name")
        ca = self._staging if is_staging(server) else self._production
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        not_before, not_after = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
            .issuer_name(ca.intermediate.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True, key_encipherment=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
            .sign(ca.key, hashes.SHA256())
        )
        cert_pem = cert.public_bytes(PEM)
        key_pem = key.private_bytes(PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
        return IssuedCertificate(cert_pem, cert_pem + ca.intermediate_pem, key_pem, ca.root_pem, not_before, not_after)


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
