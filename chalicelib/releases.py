"""Helm releases and plain manifests on a cluster, as start + check steps a Lambda can finish in seconds.

No ``helm --wait``: a Lambda that dies while helm waits leaves the release in
``pending-*`` (aws-cdk issue #22257), and every later upgrade then fails with
"another operation (install/upgrade/rollback) is in progress". Readiness is
judged by the workflow's HTTPS check of the hub instead, and every install
starts by recovering a release such a dead Lambda left behind (helm issue #7476).
"""
from __future__ import annotations

import json
import os
import re
import tempfile

from chalicelib.errors import KubeNotFound
from chalicelib.runner import Runner

PENDING = ("pending-install", "pending-upgrade", "pending-rollback")
# Revisions that were once live, and so are safe to roll back to.
ONCE_DEPLOYED = ("deployed", "superseded")
FIELD_MANAGER = "coursehub"
# Extra seconds the process gets beyond helm's own --timeout, so helm ends the operation (and records it) first.
HELM_GRACE_S = 20
_SECRET_KEY = re.compile(r"(?i)(password|passwd|token|secret|credentials?)$|access_?key|private_?key")


def install_or_upgrade(runner: Runner, release: str, namespace: str, chart_args: list[str], values: dict,
                       timeout_s: float) -> dict:
    """Install or upgrade ``release`` without waiting for readiness; its status summary afterwards."""
    recover_if_stuck(runner, release, namespace)
    handle, values_path = tempfile.mkstemp(prefix="values-", suffix=".json", dir=runner.home)  # mode 0600
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(values, out)  # JSON is YAML; the path, never the values, goes on argv
        # Not retried inside the runner: a second upgrade after a cut connection would meet its own
        # pending revision. The state machine retries, and the next call recovers that revision first.
        runner.helm("upgrade", release, *chart_args, "--install", "--create-namespace", "--namespace", namespace,
                    "--values", values_path, "--timeout", f"{int(timeout_s)}s",
                    timeout=timeout_s + HELM_GRACE_S, retry=False, redact=secret_values(values))
    finally:
        os.unlink(values_path)
    return release_status(runner, release, namespace)


def release_status(runner: Runner, release: str, namespace: str) -> dict | None:
    """The latest revision of the release (number, status, chart, description); None if there is no release."""
    latest = _history(runner, release, namespace, last=1)
    return latest[-1] if latest else None


def recover_if_stuck(runner: Runner, release: str, namespace: str) -> str | None:
    """Clear a ``pending-*`` release left by a dead Lambda; what was done, or None when nothing was stuck.

    Rolls back to the newest revision that was once deployed, or uninstalls when there is none (a first
    install that never finished), the two ways out helm issue #7476 gives. Only safe because the workflow
    never runs two helm operations on one release at once: a pending status means its helm process is gone.
    """
    history = _history(runner, release, namespace, last=256)
    if not history or history[-1]["status"] not in PENDING:
        return None
    stuck = history[-1]
    good = [entry["revision"] for entry in history[:-1] if entry["status"] in ONCE_DEPLOYED]
    if good:
        runner.helm("rollback", release, str(good[-1]), "--namespace", namespace, retry=False)
        return f"rolled back {stuck['status']} revision {stuck['revision']} to revision {good[-1]}"
    uninstall(runner, release, namespace)
    return f"uninstalled {stuck['status']} revision {stuck['revision']} (no revision was ever deployed)"


def _history(runner: Runner, release: str, namespace: str, last: int) -> list[dict]:
    """The release's last revisions, oldest first; [] if there is no release.

    ``helm history`` rather than ``helm status``: it carries neither the values (secrets) nor the manifests,
    and helm 4's status also reads every object of the release.
    """
    try:
        out = runner.helm("history", release, "--namespace", namespace, "--max", str(last), "-o", "json")
    except KubeNotFound:
        return []
    entries = sorted(json.loads(out or "[]"), key=lambda entry: entry["revision"])
    return [{"name": release, "namespace": namespace, "revision": entry["revision"], "status": entry["status"],
             "chart": entry.get("chart", ""), "app_version": entry.get("app_version", ""),
             "description": entry.get("description", ""), "updated": entry.get("updated", "")}
            for entry in entries]


def uninstall(runner: Runner, release: str, namespace: str) -> bool:
    """Uninstall ``release`` without waiting; False when it was already gone (which counts as done)."""
    try:
        runner.helm("uninstall", release, "--namespace", namespace)
    except KubeNotFound:
        return False
    return True


def apply_manifest(runner: Runner, manifest: dict) -> str:
    """Server-side apply one object (idempotent; this project owns the fields it sets); kubectl's one-line result."""
    redact = secret_values(manifest)
    if manifest.get("kind") == "Secret":  # every value of a Secret is secret, whatever its key
        redact += [value for part in ("data", "stringData") for value in (manifest.get(part) or {}).values()]
    return runner.kubectl("apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}",
                          "-f", "-", "-o", "name", stdin=json.dumps(manifest), redact=redact).strip()


def secret_values(tree) -> list[str]:
    """String values under secret-looking keys (password, token, ...), to keep out of error messages."""
    found: list[str] = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            if isinstance(value, str) and _SECRET_KEY.search(str(key)):
                found.append(value)
            else:
                found += secret_values(value)
    elif isinstance(tree, list):
        for item in tree:
            found += secret_values(item)
    return found
