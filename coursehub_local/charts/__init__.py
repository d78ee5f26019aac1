"""The real Helm chart packages the local stack installs, at the versions production pins.

The packages here are the upstream charts (provenance in README.md), so what the
local Kubernetes API is asked to hold is what a real EKS cluster is asked to
hold: CRDs, webhooks, RBAC, NetworkPolicies, DaemonSets, hook Jobs. The stack
serves this folder as a Helm repository (``index.yaml`` with relative URLs), so
helm resolves ``--repo``/``--version`` as against the charts' own repositories.
"""
from __future__ import annotations

import tarfile
from pathlib import Path

import yaml

CHARTS_DIR = Path(__file__).resolve().parent
INDEX = CHARTS_DIR / "index.yaml"


def packages() -> dict[str, list[str]]:
    """Chart name -> the versions this repository holds, as its index lists them."""
    entries = yaml.safe_load(INDEX.read_text())["entries"]
    return {name: [entry["version"] for entry in versions] for name, versions in entries.items()}


def chart_path(name: str, version: str | None = None) -> Path:
    """The package of one chart (``version`` defaults to the one production pins), usable as helm's chart argument."""
    if version is None:
        from chalicelib.charts import PINNED
        version = PINNED[name].version
    if version not in packages().get(name, []):
        raise KeyError(f"no package of chart {name!r} at version {version!r}; have {packages()}")
    return CHARTS_DIR / f"{name}-{version}.tgz"


def chart_file(name: str, member: str, version: str | None = None) -> str:
    """One file of a chart package, e.g. ``values.yaml`` or ``charts/jupyterhub/values.schema.json``."""
    with tarfile.open(chart_path(name, version)) as package:
        extracted = package.extractfile(f"{name}/{member}")
        if extracted is None:
            raise KeyError(f"{member} is not a file in chart {name}")
        return extracted.read().decode()
