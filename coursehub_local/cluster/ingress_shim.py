"""cert-manager's ingress-shim: Certificates for Ingresses annotated with an issuer.

As the real ingress-shim (pkg/controller/certificate-shim/sync.go) does, an Ingress annotated
``cert-manager.io/issuer`` or ``cert-manager.io/cluster-issuer`` gets one Certificate per ``tls``
entry, named after its ``secretName``; Certificates the Ingress no longer asks for are deleted.
With ``acme.cert-manager.io/http01-edit-in-place: "true"`` on the Ingress, the Certificate gets
``acme.cert-manager.io/http01-override-ingress-name: <the Ingress>`` and
``cert-manager.io/issue-temporary-certificate: "true"`` (``setIssuerSpecificConfig``); the first makes
the http01 solver add its path to that Ingress instead of creating its own (``acme_solver``).
"""
from __future__ import annotations

from coursehub_local.cluster.cert_manager_objects import CM, delete_if_present, find_issuer, owned_by, owner_reference

ISSUER_ANNOTATIONS = {"cert-manager.io/issuer": "Issuer", "cert-manager.io/cluster-issuer": "ClusterIssuer"}
EDIT_IN_PLACE = "acme.cert-manager.io/http01-edit-in-place"  # cmacme.IngressEditInPlaceAnnotationKey
INGRESS_NAME_OVERRIDE = "acme.cert-manager.io/http01-override-ingress-name"
TEMPORARY_CERTIFICATE = "cert-manager.io/issue-temporary-certificate"


def shim_ingresses(store) -> None:
    """Create, update or delete the Certificates that annotated Ingresses ask for."""
    certs = store.list(store.resource_type(CM, "Certificate"))[0]
    for ingress in store.list(store.resource_type("networking.k8s.io/v1", "Ingress"))[0]:
        meta = ingress["metadata"]
        issuer = next(((kind, meta["annotations"][key]) for key, kind in ISSUER_ANNOTATIONS.items()
                       if meta.get("annotations", {}).get(key)), None)
        if issuer is None or find_issuer(store, issuer[0], issuer[1], meta["namespace"]) is None:
            continue
        wanted = {}
        for tls in ingress.get("spec", {}).get("tls", []):
            if tls.get("secretName") and tls.get("hosts"):
                wanted[tls["secretName"]] = _shim_certificate(ingress, tls, *issuer)
        for cert in certs:  # as the shim, delete the ones this Ingress no longer asks for
            if owned_by(cert, ingress) and cert["metadata"]["name"] not in wanted:
                delete_if_present(store, CM, "Certificate", meta["namespace"], cert["metadata"]["name"])
        for name, cert in wanted.items():
            current = next((c for c in certs if c["metadata"]["name"] == name
                            and c["metadata"]["namespace"] == meta["namespace"]), None)
            if current is None:
                store.put_object(cert)
                continue
            annotations = {k: v for k, v in current["metadata"].get("annotations", {}).items()
                           if k not in (INGRESS_NAME_OVERRIDE, TEMPORARY_CERTIFICATE)}
            annotations.update(cert["metadata"].get("annotations", {}))
            if current["spec"] != cert["spec"] or current["metadata"].get("annotations", {}) != annotations:
                store.put_object(dict(current, spec=cert["spec"], metadata=dict(current["metadata"],
                                                                                  annotations=annotations)))


def _shim_certificate(ingress: dict, tls: dict, issuer_kind: str, issuer_name: str) -> dict:
    meta = ingress["metadata"]
    labels = {k: v for k, v in meta.get("labels", {}).items() if k != "applyset.kubernetes.io/part-of"}
    annotations = {}
    if meta.get("annotations", {}).get(EDIT_IN_PLACE) == "true":
        annotations = {INGRESS_NAME_OVERRIDE: meta["name"], TEMPORARY_CERTIFICATE: "true"}
    return {
        "apiVersion": CM, "kind": "Certificate",
        "metadata": {"name": tls["secretName"], "namespace": meta["namespace"], "labels": labels,
                     "annotations": annotations, "ownerReferences": [owner_reference(ingress)]},
        "spec": {"dnsNames": list(tls["hosts"]), "secretName": tls["secretName"],
                 "issuerRef": {"name": issuer_name, "kind": issuer_kind, "group": "cert-manager.io"},
                 "usages": ["digital signature", "key encipherment"]},
    }
