"""ACME http01 Challenges of a Certificate: one per name, with the state and reason cert-manager gives.

Each Challenge is presented by the http01 solver (``acme_solver``) and stays ``pending`` with
``status.reason`` "Waiting for HTTP-01 challenge propagation: <self check error>" (cert-manager v1.21.1
``pkg/controller/acmechallenges/readiness.go``) until the self check (``acme_self_check``) passes.
"""
from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from coursehub_local.cluster.acme_solver import clean_up
from coursehub_local.cluster.cert_manager_objects import ACME, delete_if_present, owned_by, owner_reference, set_status
from coursehub_local.kube.errors import ApiError


def ensure_challenges(store, cert: dict, acme: dict, solver: dict) -> list[dict]:
    """One Challenge per name of the Certificate (created, or its spec brought up to date); as stored."""
    meta = cert["metadata"]
    server, order = origin(acme["server"]), f"{meta['name']}-1-{digits(meta['uid'])}"
    stored = []
    for name in cert["spec"].get("dnsNames", []):
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
        }
        try:
            current = store.get_object(ACME, "Challenge", meta["namespace"], challenge["metadata"]["name"])
        except ApiError:
            current = None
        if current is not None and current.get("spec") != challenge["spec"]:
            clean_up(store, current)  # the solver changed: what the old one presented goes
        if current is None or current.get("spec") != challenge["spec"]:
            current = store.put_object(dict(challenge, status=(current or {}).get("status", {})))
        stored.append(current)
    return stored


def set_challenge_state(store, challenge: dict, failure: str | None) -> None:
    """Pending with the self check's failure, or valid."""
    status = {"presented": True, "processing": failure is not None, "state": "pending" if failure else "valid",
              "reason": f"Waiting for HTTP-01 challenge propagation: {failure}" if failure
              else "Successfully authorized domain"}
    set_status(store, challenge, status)


def delete_challenges(store, cert: dict) -> None:
    """Clean up after each Challenge of an issued Certificate (as the solver's CleanUp), then delete it."""
    namespace = cert["metadata"]["namespace"]
    for challenge in store.list(store.resource_type(ACME, "Challenge"), namespace)[0]:
        if owned_by(challenge, cert):
            clean_up(store, challenge)
            delete_if_present(store, ACME, "Challenge", namespace, challenge["metadata"]["name"])


def challenge_token(cert: dict, name: str) -> str:
    return hashlib.sha256(f"{cert['metadata']['uid']}/{name}".encode()).hexdigest()[:43]


def digits(text: str) -> str:
    """A stable number for ``text``, as ACME servers put in their URLs."""
    return str(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16))


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
