"""Whether Deployments have rolled out, read with kubectl as ``kubectl rollout status`` judges it (for tests)."""
from __future__ import annotations

import json


def deployments_ready(runner, namespace: str) -> tuple[list[str], list[str]]:
    """Names of the Deployments in ``namespace`` that have rolled out, and of those that have not.

    An empty or missing namespace gives ([], []): the caller decides whether that means "not yet".
    """
    listing = json.loads(runner.kubectl("get", "deployments", "--namespace", namespace, "-o", "json"))
    ready, pending = [], []
    for deployment in listing.get("items", []):
        (ready if rolled_out(deployment) else pending).append(deployment["metadata"]["name"])
    return sorted(ready), sorted(pending)


def rolled_out(deployment: dict) -> bool:
    """What ``kubectl rollout status`` checks: the controller saw this spec and every replica is new and available."""
    spec, status = deployment.get("spec", {}), deployment.get("status") or {}
    wanted = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    return (status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
            and updated >= wanted
            and status.get("replicas", 0) <= updated  # no old replicas still terminating
            and status.get("availableReplicas", 0) >= updated)


