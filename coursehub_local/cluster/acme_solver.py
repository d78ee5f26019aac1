"""cert-manager's http01 Ingress solver: what it creates for a Challenge, and what it removes afterwards.

As ``pkg/issuer/acme/http/`` in cert-manager v1.21.1:

- ``Present`` (``http.go``) makes a solver Pod and Service (``pod.go``, ``service.go``: generateName
  ``cm-acme-http-solver-``, labels ``acme.cert-manager.io/http-domain``/``http-token`` (adler32 of the
  name and token) and ``acme.cert-manager.io/http01-solver: "true"``, a NodePort Service on 8089, the
  acmesolver started with ``--domain``, ``--token``, ``--key``), then (``ingress.go`` ``ensureIngress``)
  either its own Ingress for the name (same generateName and labels, ``ingressClassName`` or the
  ``kubernetes.io/ingress.class`` annotation from the solver, one rule for the host with one path) or,
  when the solver names an Ingress (``http01.ingress.name``), that path added first to the rule for the
  host on the named Ingress (``addChallengePathToIngress``). The path is
  ``/.well-known/acme-challenge/<token>``, pathType ``Exact`` (the ``ACMEHTTP01IngressPathTypeExact``
  feature gate is Beta and on by default in v1.21, ``internal/controller/feature/features.go``).
- ``CleanUp`` deletes the Pod, Service and its own Ingress, or takes the path back out of the named
  Ingress (``cleanupIngresses``).
- The solver an Order uses is the Issuer's, with ``acme.cert-manager.io/http01-override-ingress-name``
  (and ``-class``, ``-ingressclassname``) from the Certificate's annotations applied
  (``pkg/controller/acmeorders/util.go`` ``applyIngressParameterAnnotationOverrides``; the annotations
  reach the Order through the CertificateRequest, ``certificaterequests/acme/acme.go``).
"""
from __future__ import annotations

import copy
import random
import zlib

from coursehub_local.cluster.cert_manager_objects import ACME, delete_if_present, owned_by, owner_reference
from coursehub_local.kube.errors import ApiError

PREFIX = "cm-acme-http-solver-"
PORT = 8089  # acmeSolverListenPort
CHALLENGE_PATH = "/.well-known/acme-challenge"
SOLVER_LABEL = "acme.cert-manager.io/http01-solver"
OVERRIDES = {"acme.cert-manager.io/http01-override-ingress-name": "name",
             "acme.cert-manager.io/http01-override-ingress-class": "class",
             "acme.cert-manager.io/http01-override-ingress-ingressclassname": "ingressClassName"}
NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # what the API server draws generateName suffixes from
ING = "networking.k8s.io/v1"


def order_solver(solver: dict, cert: dict) -> dict:
    """The Issuer's solver with the Certificate's ingress override annotations applied."""
    solver = copy.deepcopy(solver)
    ingress = solver.get("http01", {}).get("ingress")
    chosen = {field: value for key, field in OVERRIDES.items()
              if (value := cert["metadata"].get("annotations", {}).get(key)) is not None}
    if ingress is not None and len(chosen) == 1:  # more than one is an error upstream: the Order is not made
        for field in OVERRIDES.values():
            ingress.pop(field, None)
        ingress.update(chosen)
    return solver


def pod_labels(challenge: dict) -> dict:
    spec = challenge["spec"]
    return {"acme.cert-manager.io/http-domain": str(zlib.adler32(spec["dnsName"].encode())),
            "acme.cert-manager.io/http-token": str(zlib.adler32(spec["token"].encode())),
            SOLVER_LABEL: "true"}


def present(store, challenge: dict) -> None:
    """Make sure the solver Pod, Service and Ingress path for the Challenge exist (idempotent)."""
    namespace, labels = challenge["metadata"]["namespace"], pod_labels(challenge)
    if not _owned(store, "v1", "Pod", challenge):
        store.put_object({
            "apiVersion": "v1", "kind": "Pod", "metadata": _meta(store, "v1", "Pod", challenge, labels),
            "spec": {"restartPolicy": "OnFailure", "containers": [{
                "name": "acmesolver", "image": "quay.io/jetstack/cert-manager-acmesolver:v1.21.1",
                "args": [f"--listen-port={PORT}", f"--domain={challenge['spec']['dnsName']}",
                         f"--token={challenge['spec']['token']}", f"--key={challenge['spec']['key']}"],
                "ports": [{"name": "http", "containerPort": PORT}]}]}})
    services = _owned(store, "v1", "Service", challenge)
    if not services:
        services = [store.put_object({
            "apiVersion": "v1", "kind": "Service", "metadata": _meta(store, "v1", "Service", challenge, labels),
            "spec": {"type": "NodePort", "selector": labels,
                     "ports": [{"name": "http", "port": PORT, "targetPort": PORT}]}})]
    service = services[0]["metadata"]["name"]
    ingress_cfg = challenge["spec"]["solver"]["http01"].get("ingress", {})
    if ingress_cfg.get("name"):
        return _add_path(store, namespace, ingress_cfg["name"], challenge, service)
    if _owned(store, ING, "Ingress", challenge):
        return None
    annotations = {"nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0,::/0"}
    if ingress_cfg.get("class"):
        annotations["kubernetes.io/ingress.class"] = ingress_cfg["class"]
    spec = {"rules": [{"host": challenge["spec"]["dnsName"], "http": {"paths": [_path(challenge, service)]}}]}
    if ingress_cfg.get("ingressClassName"):
        spec["ingressClassName"] = ingress_cfg["ingressClassName"]
    meta = dict(_meta(store, ING, "Ingress", challenge, labels), annotations=annotations)
    store.put_object({"apiVersion": ING, "kind": "Ingress", "metadata": meta, "spec": spec})
    return None


def clean_up(store, challenge: dict) -> None:
    """Delete the solver's Pod, Service and own Ingress, or take its path out of the named Ingress."""
    namespace = challenge["metadata"]["namespace"]
    name = challenge["spec"]["solver"]["http01"].get("ingress", {}).get("name")
    if name:
        _remove_path(store, namespace, name, challenge)
    for api_version, kind in (("v1", "Pod"), ("v1", "Service"), (ING, "Ingress")):
        for obj in _owned(store, api_version, kind, challenge):
            delete_if_present(store, api_version, kind, namespace, obj["metadata"]["name"])


def _add_path(store, namespace: str, name: str, challenge: dict, service: str) -> None:
    try:
        ingress = store.get_object(ING, "Ingress", namespace, name)
    except ApiError:
        return None  # the named Ingress does not exist: Present fails and is retried
    wanted = _path(challenge, service)
    rules = ingress.setdefault("spec", {}).setdefault("rules", [])
    rule = next((r for r in rules if r.get("host") == challenge["spec"]["dnsName"]), None)
    if rule is None:
        rules.append({"host": challenge["spec"]["dnsName"], "http": {"paths": [wanted]}})
    else:
        paths = rule.setdefault("http", {}).setdefault("paths", [])
        same = next((i for i, p in enumerate(paths) if p.get("path") == wanted["path"]), None)
        if same is not None:
            if paths[same]["backend"] == wanted["backend"]:
                return None
            paths[same] = wanted
        else:
            paths.insert(0, wanted)
    store.put_object(ingress)
    return None


def _remove_path(store, namespace: str, name: str, challenge: dict) -> None:
    try:
        ingress = store.get_object(ING, "Ingress", namespace, name)
    except ApiError:
        return  # "named ingress resource not found, skipping cleanup"
    path, rules = f"{CHALLENGE_PATH}/{challenge['spec']['token']}", []
    for rule in copy.deepcopy(ingress.get("spec", {}).get("rules", [])):
        if rule.get("host") != challenge["spec"]["dnsName"] or "http" not in rule:
            rules.append(rule)
            continue
        rule["http"]["paths"] = [p for p in rule["http"].get("paths", []) if p.get("path") != path]
        if rule["http"]["paths"]:
            rules.append(rule)
    if rules != ingress["spec"].get("rules"):
        ingress["spec"]["rules"] = rules
        store.put_object(ingress)


def _path(challenge: dict, service: str) -> dict:
    return {"path": f"{CHALLENGE_PATH}/{challenge['spec']['token']}", "pathType": "Exact",
            "backend": {"service": {"name": service, "port": {"number": PORT}}}}


def _owned(store, api_version: str, kind: str, challenge: dict) -> list[dict]:
    """Objects of ``kind`` with the Challenge's solver labels that the Challenge controls."""
    labels = pod_labels(challenge)
    items = store.list(store.resource_type(api_version, kind), challenge["metadata"]["namespace"])[0]
    return [o for o in items if owned_by(o, challenge)
            and all(o["metadata"].get("labels", {}).get(k) == v for k, v in labels.items())]


def _meta(store, api_version: str, kind: str, challenge: dict, labels: dict) -> dict:
    namespace = challenge["metadata"]["namespace"]
    while True:
        name = PREFIX + "".join(random.choice(NAME_CHARS) for _ in range(5))
        try:
            store.get_object(api_version, kind, namespace, name)
        except ApiError:
            break
    return {"name": name, "namespace": namespace, "labels": dict(labels),
            "ownerReferences": [owner_reference(challenge)]}


def challenges_of(store, cert: dict) -> list[dict]:
    """The Challenges of a Certificate's current order."""
    namespace = cert["metadata"]["namespace"]
    return [c for c in store.list(store.resource_type(ACME, "Challenge"), namespace)[0] if owned_by(c, cert)]
