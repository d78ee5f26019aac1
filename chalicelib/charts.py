"""The charts a hub installs, pinned, and where helm gets them from.

Production pulls each chart from its repository at the pinned version. A
deployment may instead name a folder holding the charts (setting
``CHART_DIRECTORY``); the local stack points it at its stand-in charts. That
setting is the only difference between the two.
"""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    """One chart at a pinned version."""

    name: str
    repository: str  # https:// Helm repository or oci:// registry
    version: str

    def reference(self, chart_directory: str | None = None) -> list[str]:
        """The helm arguments that name this chart: a local folder, an OCI reference or ``--repo``."""
        if chart_directory:
            return [os.path.join(chart_directory, self.name)]
        if self.repository.startswith("oci://"):
            return [f"{self.repository}/{self.name}", "--version", self.version]
        return [self.name, "--repo", self.repository, "--version", self.version]


# F5's maintained ingress controller; the community ingress-nginx ended maintenance in 2026.
INGRESS = Chart("nginx-ingress", "oci://ghcr.io/nginx/charts", "2.7.2")
CERT_MANAGER = Chart("cert-manager", "https://charts.jetstack.io", "v1.21.2")
# BinderHub publishes only development builds; pin one, never "latest".
BINDERHUB = Chart("binderhub", "https://jupyterhub.github.io/helm-chart", "1.0.0-0.dev.git.3673.h040c9bbe")
PINNED = {chart.name: chart for chart in (INGRESS, CERT_MANAGER, BINDERHUB)}
