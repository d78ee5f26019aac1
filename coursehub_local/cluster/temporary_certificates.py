"""cert-manager's temporary certificate, written while a Certificate annotated for it is first issued.

With ``cert-manager.io/issue-temporary-certificate: "true"`` (ingress-shim sets it with edit in place),
the issuing controller writes a certificate signed by a throwaway CA ``cert-manager.local`` into the
Secret when the Secret does not exist or lacks a valid pair (cert-manager v1.21.1
``pkg/controller/certificates/issuing/temporary.go``, ``pkg/util/pki/temporarycertificate.go``) and
records the Event "Issued temporary certificate". An ingress controller can then serve the host over
TLS while the ACME order runs (F5 NGINX rejects the handshake of a host whose Secret is missing).
"""
from __future__ import annotations

import base64
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from coursehub_local.cluster.cert_manager_objects import find_secret
from coursehub_local.cluster.ingress_shim import TEMPORARY_CERTIFICATE

TEMPORARY_CA = "cert-manager.local"
PEM = serialization.Encoding.PEM


def wants_temporary(cert: dict) -> bool:
    return cert["metadata"].get("annotations", {}).get(TEMPORARY_CERTIFICATE) == "true"


def is_temporary(secret: dict | None) -> bool:
    """Whether the Secret holds a temporary certificate (issued by ``cert-manager.local``)."""
    data = (secret or {}).get("data", {}).get("tls.crt")
    if not data:
        return False
    try:
        cert = x509.load_pem_x509_certificate(base64.b64decode(data))
    except ValueError:
        return False
    return cert.issuer.rfc4514_string() == f"CN={TEMPORARY_CA}"


def ensure_temporary(store, cert: dict) -> None:
    """Write the temporary certificate when the Secret is missing or has no certificate and key."""
    meta, spec = cert["metadata"], cert["spec"]
    secret = find_secret(store, meta["namespace"], spec["secretName"])
    data = (secret or {}).get("data", {})
    if data.get("tls.crt") and data.get("tls.key"):
        return
    cert_pem, key_pem = _sign(list(spec.get("dnsNames", [])))
    ref = spec.get("issuerRef", {})
    annotations = {"cert-manager.io/alt-names": ",".join(spec.get("dnsNames", [])),
                   "cert-manager.io/certificate-name": meta["name"], "cert-manager.io/common-name": "",
                   "cert-manager.io/ip-sans": "", "cert-manager.io/uri-sans": "",
                   "cert-manager.io/issuer-group": ref.get("group", "cert-manager.io"),
                   "cert-manager.io/issuer-kind": ref.get("kind", "Issuer"),
                   "cert-manager.io/issuer-name": ref.get("name", "")}
    store.put_object({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": spec["secretName"], "namespace": meta["namespace"], "annotations": annotations,
                     "labels": {"controller.cert-manager.io/fao": "true"}},
        "data": {"tls.crt": base64.b64encode(cert_pem).decode(), "tls.key": base64.b64encode(key_pem).decode()},
    })


def _sign(dns_names: list[str]) -> tuple[bytes, bytes]:
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP521R1())  # GenerateECPrivateKey(ECCurve521), then discarded
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TEMPORARY_CA)])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.SERIAL_NUMBER, "1234567890")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    key_pem = key.private_bytes(PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    return cert.public_bytes(PEM), key_pem
