"""ACME http01 Challenges, with the reason cert-manager's self check would give while a name does not resolve.

A name passes only when it resolves, through the stack's Route53, to the load balancer of the ingress
class the http01 solver uses; until then its Challenge's ``status.reason`` says why it does not.
"""
from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from coursehub_local.cluster.cert_manager_objects import ACME, delete_if_present, owned_by, owner_reference
from coursehub_local.cluster.ingress import controller_services, ingress_class
from coursehub_local.cluster.services import load_balancer_hostname
from coursehub_local.kube.errors import ApiError


def solver_load_balancer(store, solver: dict, namespace: str) -> str | None:
    """The load balancer the http01 solver's ingress class is served by: where a self check must land."""
    ingress = solver["http01"].get("ingress", {})
    cls = ingress.get("ingressClassName") or ingress.get("class")
    if not cls and ingress.get("name"):
        try:
            cls = ingress_class(store.get_object("networking.k8s.io/v1", "Ingress", namespace, ingress["name"]))
        except ApiError:
            return None
    service = controller_services(store).get(cls or "")
    return load_balancer_hostname(service) if service else None


def self_check_failure(name: str, resolved: str | None, expected: str | None, token: str) -> str | None:
    """What cert-manager's http01 self check reports for ``name``, or None when it would pass."""
    url = f"http://{name}/.well-known/acme-challenge/{token}"
    prefix = f"Waiting for HTTP-01 challenge propagation: failed to perform self check GET request '{url}'"
    if resolved is None:
        return f'{prefix}: Get "{url}": dial tcp: lookup {name} on 10.100.0.10:53: no such host'
    if expected is None:
        return f'{prefix}: Get "{url}": dial tcp {resolved}:80: connect: connection refused'
    if resolved != expected.rstrip(".").lower():
        return f"{prefix}: wrong status code '404', expected '200'"
    return None


def write_challenges(store, cert: dict, acme: dict, solver: dict, failures: dict[str, str | None]) -> None:
    """One Challenge per name of the Certificate: pending with the self check's failure, or valid."""
    meta = cert["metadata"]
    server, order = origin(acme["server"]), f"{meta['name']}-1-{digits(meta['uid'])}"
    for name, failure in failures.items():
        token = challenge_token(cert, name)
        challenge = {
            "apiVersion": ACME, "kind": "Challenge",
            "metadata": {"name": f"{order}-{digits(name)}", "namespace": meta["namespace"],
                         "labels": {"acme.cert-manager.io/order-name": order},
                         "ownerReferences": [owner_reference(cert)]},
            "spec": {"dnsName": name, "type": "HTTP-01", "token": token, "key": f"{token}.local",
                     "url": f"{server}/acme/chall-v3/{digits(token)}", "authorizationURL":
                     f"{server}/acme/authz-v3/{digits(name + token)}", "wildcard": False,
                     "solver": solver, "issuerRef": cert["spec"].get("issuerRef", {})},
            "status": {"presented": True, "processing": failure is not None,
                       "state": "pending" if failure else "valid",
                       "reason": failure or "Successfully authorized domain"},
        }
        try:
            current = store.get_object(ACME, "Challenge", meta["namespace"], challenge["metadata"]["name"])
            if current.get("spec") == challenge["spec"] and current.get("status") == challenge["status"]:
                continue
        except ApiError:
            pass
        store.put_object(challenge)


def delete_challenges(store, cert: dict) -> None:
    """Delete the Challenges of an issued Certificate."""
    namespace = cert["metadata"]["namespace"]
    for challenge in store.list(store.resource_type(ACME, "Challenge"), namespace)[0]:
        if owned_by(challenge, cert):
            delete_if_present(store, ACME, "Challenge", namespace, challenge["metadata"]["name"])


def challenge_token(cert: dict, name: str) -> str:
    return hashlib.sha256(f"{cert['metadata']['uid']}/{name}".encode()).hexdigest()[:43]


def digits(text: str) -> str:
    """A stable number for ``text``, as ACME servers put in their URLs."""
    return str(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16))


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
