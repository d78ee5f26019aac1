"""Stand-in Helm charts that the local stack installs instead of the real ones.

Only the chart source differs from production: the values the workflow
generates are the same, so each stand-in accepts and rejects what the real
chart does and creates the objects (names, port order, annotations) the
workflow depends on. See README.md in this folder for provenance.
"""
from __future__ import annotations

from pathlib import Path

CHARTS_DIR = Path(__file__).resolve().parent
CHART_NAMES = ("nginx-ingress", "cert-manager", "binderhub")


def chart_path(name: str) -> Path:
    """Folder of one stand-in chart, usable wherever helm takes a chart reference."""
    if name not in CHART_NAMES:
        raise KeyError(f"no stand-in chart named {name!r}; have {', '.join(CHART_NAMES)}")
    return CHARTS_DIR / name
