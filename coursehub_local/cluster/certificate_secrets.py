"""A Certificate's Secret and status: why the Secret does not hold it yet, and writing it once issued."""
from __future__ import annotations

import base64

from coursehub_local.acme_ca import LocalAcmeCa
from coursehub_local.cluster.cert_manager_objects import CM, new_condition, set_status

# Not a cert-manager field: the local stack records which ACME directory (staging or production) issued.
ACME_SERVER_ANNOTATION = "coursehub.local/acme-server"


def secret_problem(secret: dict | None, cert: dict) -> tuple[str | None, str]:
    """Why the Secret does not (yet) hold this Certificate, as cert-manager's issuing reasons say; None if it does."""
    if secret is None:
        return "DoesNotExist", "Issuing certificate as Secret does not exist"
    annotations = secret["metadata"].get("annotations", {})
    if not secret.get("data", {}).get("tls.crt"):
        return "MissingData", "Issuing certificate as Secret does not contain a certificate"
    ref = cert["spec"].get("issuerRef", {})
    if annotations.get("cert-manager.io/issuer-name") != ref.get("name") \
            or annotations.get("cert-manager.io/issuer-kind") != ref.get("kind", "Issuer"):
        return "IncorrectIssuer", "Issuing certificate as Secret was previously issued by a different issuer"
    if annotations.get("cert-manager.io/alt-names") != ",".join(cert["spec"].get("dnsNames", [])):
        return "SecretMismatch", "Issuing certificate as Secret was previously issued for different DNS names"
    return None, ""


def pending_status(cert: dict, reason: str, message: str) -> dict:
    """The status of a Certificate being issued: not Ready, Issuing, both for ``reason``."""
    status = {k: v for k, v in cert.get("status", {}).items() if k != "conditions"}
    status["conditions"] = [new_condition("Ready", "False", reason, message, cert),
                            new_condition("Issuing", "True", reason, message, cert)]
    return status


def write_issued(store, ca: LocalAcmeCa, cert: dict, issuer: dict):
    """Have the local ACME CA sign the Certificate's names (under the root of the Issuer's ACME server);
    write its Secret and note the ACME server on it."""
    meta, spec = cert["metadata"], cert["spec"]
    server = issuer.get("spec", {}).get("acme", {}).get("server", "")
    issued = ca.issue(list(spec["dnsNames"]), server=server)  # staging directory: the staging root signs
    ref = spec.get("issuerRef", {})
    annotations = {
        "cert-manager.io/alt-names": ",".join(spec["dnsNames"]), "cert-manager.io/certificate-name": meta["name"],
        "cert-manager.io/common-name": spec.get("commonName", ""), "cert-manager.io/ip-sans": "",
        "cert-manager.io/uri-sans": "", "cert-manager.io/issuer-group": ref.get("group", "cert-manager.io"),
        "cert-manager.io/issuer-kind": ref.get("kind", "Issuer"),
        "cert-manager.io/issuer-name": ref.get("name", ""),
        ACME_SERVER_ANNOTATION: server,
    }
    store.put_object({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": spec["secretName"], "namespace": meta["namespace"], "annotations": annotations,
                     "labels": {"controller.cert-manager.io/fao": "true"}},
        "data": {"tls.crt": _b64(issued.chain_pem), "tls.key": _b64(issued.key_pem), "ca.crt": _b64(issued.ca_pem)},
    })
    annotated = dict(meta, annotations={**meta.get("annotations", {}), ACME_SERVER_ANNOTATION: server})
    store.put_object(dict(store.get_object(CM, "Certificate", meta["namespace"], meta["name"]), metadata=annotated))
    return issued


def set_ready(store, cert: dict, revision: int | None = None, validity=None) -> None:
    """Mark the Certificate Ready; with a new ``revision`` and (notBefore, notAfter) once just issued."""
    status = dict(cert.get("status", {}))
    status["conditions"] = [new_condition("Ready", "True", "Ready",
                                          "Certificate is up to date and has not expired", cert)]
    if revision is not None:
        status["revision"] = revision
    if validity:
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        status.update(notBefore=validity[0].strftime(fmt), notAfter=validity[1].strftime(fmt),
                      renewalTime=(validity[1] - (validity[1] - validity[0]) / 3).strftime(fmt))
    set_status(store, cert, status)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
