"""The charts a hub installs, pinned, and where helm gets them from.

Production pulls each chart from its own repository at the pinned version. A
deployment may instead name one Helm repository mirroring the pinned charts
(setting ``CHART_REPOSITORY``); the local stack points it at a repository
serving its stand-in charts (``coursehub_local/chart_repository.py``). That
setting is the only difference between the two: helm resolves ``--version``
against either, so a version the repository lacks fails the same way.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    """One chart at a pinned version."""

    name: str
    repository: str  # https:// Helm repository or oci:// registry
    version: str

    def reference(self, repository: str | None = None) -> list[str]:
        """The helm arguments that name this chart: from ``repository`` (a mirror of all the charts) or its own."""
        if repository:
            return [self.name, "--repo", repository, "--version", self.version]
        if self.repository.startswith("oci://"):
            return [f"{self.repository}/{self.name}", "--version", self.version]
        return [self.name, "--repo", self.repository, "--version", self.version]


# F5's maintained ingress controller (the community ingress-nginx ended maintenance in 2026): chart 2.6.4 is
# controller 5.5.4, the newest release (nginx/kubernetes-ingress tag v5.5.4; no 2.7.x was released).
INGRESS = Chart("nginx-ingress", "oci://ghcr.io/nginx/charts", "2.6.4")
# cert-manager v1.21 supports Kubernetes 1.33-1.36 (cert-manager.io/docs/releases/).
CERT_MANAGER = Chart("cert-manager", "https://charts.jetstack.io", "v1.21.1")
# BinderHub publishes only development builds; pin one, never "latest". This one (binderhub b849baa9) bundles
# the jupyterhub chart 4.2.0 (JupyterHub 5.3.0); 1.0.0-0.dev.git.3673.h040c9bbe bundles jupyterhub 4.0.0.
BINDERHUB = Chart("binderhub", "https://jupyterhub.github.io/helm-chart", "1.0.0-0.dev.git.3946.hb849baa9")
PINNED = {chart.name: chart for chart in (INGRESS, CERT_MANAGER, BINDERHUB)}
