"""One settings object, built once from the environment.

Per-stage values live in ``.chalice/config.json``; the deployment and the local
stack only differ in these values and in the AWS endpoint boto3 is given.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from chalicelib.errors import SettingsError


@dataclass(frozen=True)
class Settings:
    """Configuration every handler shares."""

    stage: str
    hub_table_name: str
    slack_webhook_secret_arn: str
    slack_timeout_seconds: float = 10.0
    tools_dir: str = "/opt"  # the kubectl/helm layer: /opt/helm/helm, /opt/kubectl/kubectl
    kube_timeout_seconds: float = 120.0
    chart_directory: str | None = None  # None: charts come from their repositories (chalicelib/charts.py)
    # What the provisioning functions need from the deployment; checked when used (``require``).
    cluster_role_arn: str = ""
    node_role_arn: str = ""
    kube_role_arns: tuple[str, ...] = ()  # roles of the functions that talk to Kubernetes; made cluster admins
    subnet_ids: tuple[str, ...] = ()

    def require(self, *names: str) -> None:
        """Raise SettingsError naming the first of ``names`` that the deployment did not provide."""
        for name in names:
            if not getattr(self, name):
                raise SettingsError(f"environment variable {name.upper()} is not set")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Build the settings, naming the first missing or malformed variable."""
        env = os.environ if environ is None else environ

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise SettingsError(f"environment variable {name} is not set")
            return value

        timeout_text = env.get("SLACK_TIMEOUT_SECONDS", "10")
        try:
            timeout = float(timeout_text)
        except ValueError:
            raise SettingsError(f"SLACK_TIMEOUT_SECONDS is not a number: {timeout_text!r}") from None
        if not 0 < timeout <= 60:
            raise SettingsError("SLACK_TIMEOUT_SECONDS must be in (0, 60]")
        kube_timeout_text = env.get("KUBE_TIMEOUT_SECONDS", "120")
        try:
            kube_timeout = float(kube_timeout_text)
        except ValueError:
            raise SettingsError(f"KUBE_TIMEOUT_SECONDS is not a number: {kube_timeout_text!r}") from None
        if not 10 <= kube_timeout <= 600:
            raise SettingsError("KUBE_TIMEOUT_SECONDS must be in [10, 600] (a Lambda runs 15 minutes at most)")
        return cls(
            stage=required("STAGE"),
            hub_table_name=required("HUB_TABLE_NAME"),
            slack_webhook_secret_arn=required("SLACK_WEBHOOK_SECRET_ARN"),
            slack_timeout_seconds=timeout,
            tools_dir=env.get("TOOLS_DIR", "").strip() or "/opt",
            kube_timeout_seconds=kube_timeout,
            chart_directory=env.get("CHART_DIRECTORY", "").strip() or None,
            cluster_role_arn=env.get("CLUSTER_ROLE_ARN", "").strip(),
            node_role_arn=env.get("NODE_ROLE_ARN", "").strip(),
            kube_role_arns=tuple(a.strip() for a in env.get("KUBE_ROLE_ARNS", "").split(",") if a.strip()),
            subnet_ids=tuple(s.strip() for s in env.get("SUBNET_IDS", "").split(",") if s.strip()),
        )
