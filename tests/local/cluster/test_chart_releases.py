"""The real charts' whole release life with the real helm 3 and helm 4 against a local EKS cluster."""
import json
import subprocess

import pytest

from chalicelib import charts
from coursehub.tools import tool_path
from tests.local.cluster.test_cluster_api import active_cluster, add_nodegroup, kubeconfig, kubectl


def helm_for(layer, config):
    def helm(*args, check=True):
        result = subprocess.run([str(tool_path("helm", layer)), *args, "--kubeconfig", str(config)],
                                capture_output=True, text=True, timeout=120)
        if check:
            assert result.returncode == 0, result.stderr
        return result
    return helm


@pytest.mark.parametrize("layer", ["v31", "v35"], ids=["helm3", "helm4"])
def test_install_upgrade_rollback_list_and_uninstall_every_pinned_chart(stack, tmp_path, layer):
    _, cluster = active_cluster(stack)
    add_nodegroup(stack, cluster["name"], desired=1)  # cert-manager's post-install hook Job needs a node
    helm = helm_for(layer, kubeconfig(tmp_path, stack, cluster))
    for chart in charts.PINNED.values():
        release, namespace = chart.name, f"ns-{chart.name}"
        reference = chart.reference(stack.chart_repository.url)
        helm("upgrade", "--install", release, *reference, "--namespace", namespace, "--create-namespace")
        helm("upgrade", release, *reference, "--namespace", namespace)  # same values: still a new revision
        history = json.loads(helm("history", release, "--namespace", namespace, "-o", "json").stdout)
        assert [h["revision"] for h in history] == [1, 2]
        helm("rollback", release, "1", "--namespace", namespace)
        status = json.loads(helm("status", release, "--namespace", namespace, "-o", "json").stdout)
        assert status["version"] == 3 and status["info"]["status"] == "deployed"
        listed = json.loads(helm("list", "--namespace", namespace, "-o", "json").stdout)
        assert [r["name"] for r in listed] == [release]
        helm("uninstall", release, "--namespace", namespace)
        assert json.loads(helm("list", "--namespace", namespace, "-o", "json").stdout) == []


@pytest.mark.parametrize("layer", ["v31", "v35"], ids=["helm3", "helm4"])
def test_a_removed_setting_fails_the_install_and_helm_says_why(stack, tmp_path, layer):
    _, cluster = active_cluster(stack)
    helm = helm_for(layer, kubeconfig(tmp_path, stack, cluster))
    result = helm("install", "hub", *charts.BINDERHUB.reference(stack.chart_repository.url), "--namespace", "hub",
                  "--create-namespace", "--set", "dind.enabled=true", check=False)
    assert result.returncode != 0 and "dind" in result.stderr
    status = helm("status", "hub", "--namespace", "hub", check=False)
    assert status.returncode != 0 and "not found" in status.stderr


@pytest.mark.parametrize("layer", ["v31", "v35"], ids=["helm3", "helm4"])
def test_without_a_ready_node_cert_managers_hook_job_never_completes_and_the_install_times_out(stack, tmp_path, layer):
    _, cluster = active_cluster(stack)
    helm = helm_for(layer, kubeconfig(tmp_path, stack, cluster))
    result = helm("install", "cert-manager", *charts.CERT_MANAGER.reference(stack.chart_repository.url),
                  "--namespace", "cert-manager", "--create-namespace", "--timeout", "3s", check=False)
    assert result.returncode != 0
    assert "failed post-install" in result.stderr, result.stderr
    job = json.loads(kubectl(kubeconfig(tmp_path, stack, cluster), "get", "job", "cert-manager-startupapicheck",
                             "-n", "cert-manager", "-o", "json").stdout)
    assert job["status"].get("active") == 1 and not job["status"].get("succeeded")
    status = json.loads(helm("status", "cert-manager", "--namespace", "cert-manager", "-o", "json").stdout)
    assert status["info"]["status"] == "failed"
