"""Releases on a local EKS cluster with the real helm 3 and helm 4 (kubectl layers v31 and v35) and the stand-in charts."""
import base64
import gzip
import json
from datetime import date

import pytest

from chalicelib import charts, values
from chalicelib.errors import KubeCommandFailed, KubeNotFound
from chalicelib.hub_request import HubRequest, Limits
from chalicelib.image_registry import RegistryLogin
from chalicelib.kube_session import cluster_session
from chalicelib.releases import (apply_manifest, install_or_upgrade, recover_if_stuck,
                                 release_status, uninstall)
from coursehub_local.chart_repository import ChartRepository
from coursehub_local.charts import chart_path
from coursehub.tools import tool_path
from tests.conftest import eventually
from tests.local.rollouts import deployments_ready
from tests.local.cluster.test_cluster_api import active_cluster, add_nodegroup
from tests.local.cluster.test_volumes import ebs_csi

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:coursehub/dev/x-AbCdEf"
REQUEST = HubRequest.parse({
    "course_id": "cs101", "domain": "courses.example.edu", "term_end": "2027-03-01",
    "image_prefix": "coursehub/cs101-", "acme_email": "ops@example.edu", "cors_origin": "https://courses.example.edu",
    "dockerhub_secret_arn": ARN, "github_token_secret_arn": ARN, "slack_webhook_secret_arn": ARN,
}, Limits(today=date(2026, 11, 27)))
SECRETS = values.ChartSecrets(RegistryLogin("", "coursehub", "dockerhub-password-do-not-print"), "coursehub/cs101-",
                              "ghp_do_not_print_0123456789abcdef")
VALUES = values.binderhub_values(REQUEST, SECRETS)
LOCAL_CHART = [str(chart_path("binderhub"))]
RELEASE = "binderhub"
TIMEOUT_S = 60
LAYERS = {"helm3": "v31", "helm4": "v35"}


@pytest.fixture(scope="module")
def cluster(stack):
    """One ACTIVE cluster with a Ready node; each test works in its own namespace."""
    name, _ = active_cluster(stack)
    add_nodegroup(stack, name, desired=1)
    return name


@pytest.fixture(params=list(LAYERS))
def bin_dir(request):
    """helm and kubectl of one kubectl layer (v31: helm 3.17, v35: helm 4.1), in a flat folder."""
    return str(tool_path("helm", LAYERS[request.param]).parent)


@pytest.fixture
def runner(request, stack, cluster, bin_dir):
    """A runner from ``cluster_session``, as a task Lambda gets one."""
    with cluster_session(stack.client("eks"), stack.client("sts"), cluster, bin_dir=bin_dir,
                         timeout=TIMEOUT_S) as session:
        eventually(lambda: json.loads(session.kubectl("get", "nodes", "-o", "json"))["items"])
        yield session


@pytest.fixture
def namespace(request, runner):
    """A namespace per test and helm version."""
    test = request.node.originalname.removeprefix("test_")[:40].rstrip("_").replace("_", "-")
    return f"{test}-{request.node.callspec.id}"


@pytest.fixture(scope="module")
def chart_repo():
    """An HTTP chart repository holding the stand-ins at their pinned versions, as production's --repo."""
    with ChartRepository() as repository:
        yield repository.url


def _decode(secret):
    return json.loads(gzip.decompress(base64.b64decode(base64.b64decode(secret["data"]["release"]))))


def _encode(release):
    return base64.b64encode(base64.b64encode(gzip.compress(json.dumps(release).encode()))).decode()


def release_secret(runner, namespace, revision):
    return json.loads(runner.kubectl("get", "secret", f"sh.helm.release.v1.{RELEASE}.v{revision}",
                                     "--namespace", namespace, "-o", "json"))


def leave_pending(runner, namespace, revision, status):
    """Leave ``revision`` in ``status`` as a helm killed mid-operation (with its Lambda) does.

    helm keeps each revision in a Secret ``sh.helm.release.v1.<release>.v<revision>``: data.release is
    base64(gzip(JSON release)) and the labels repeat its status and version. Revision 1 is rewritten in
    place (a first install); a later one is written as a copy of the one before, as helm writes a new
    revision before it touches any object.
    """
    if revision == 1:
        secret, verb = release_secret(runner, namespace, 1), "replace"
    else:
        secret, verb = release_secret(runner, namespace, revision - 1), "create"
        secret["metadata"] = {"name": f"sh.helm.release.v1.{RELEASE}.v{revision}", "namespace": namespace,
                              "labels": {**secret["metadata"]["labels"], "version": str(revision)}}
    release = _decode(secret)
    release["version"], release["info"]["status"] = revision, status
    secret["data"]["release"] = _encode(release)
    secret["metadata"]["labels"]["status"] = status
    runner.kubectl(verb, "-f", "-", stdin=json.dumps(secret))


def history(runner, namespace):
    return [(h["revision"], h["status"]) for h in
            json.loads(runner.helm("history", RELEASE, "--namespace", namespace, "-o", "json"))]


def test_upgrades_make_new_revisions_and_one_left_pending_is_rolled_back_first(runner, namespace, chart_repo):
    pinned = charts.BINDERHUB.reference(chart_repo)  # production's --repo form, from a mirror
    first = install_or_upgrade(runner, RELEASE, namespace, pinned, VALUES, TIMEOUT_S)
    assert (first["status"], first["revision"], first["namespace"]) == ("deployed", 1, namespace)
    second = install_or_upgrade(runner, RELEASE, namespace, LOCAL_CHART, {**VALUES, "replicas": 2}, TIMEOUT_S)
    assert (second["status"], second["revision"]) == ("deployed", 2)
    deployment = json.loads(runner.kubectl("get", "deployment", "binder", "--namespace", namespace, "-o", "json"))
    assert deployment["spec"]["replicas"] == 2
    assert SECRETS.registry.password not in json.dumps(second)  # helm's values and manifests are left out

    leave_pending(runner, namespace, 3, "pending-upgrade")
    with pytest.raises(KubeCommandFailed, match="another operation"):  # what every later upgrade would meet
        runner.helm("upgrade", RELEASE, *LOCAL_CHART, "--namespace", namespace, retry=False)
    third = install_or_upgrade(runner, RELEASE, namespace, LOCAL_CHART, VALUES, TIMEOUT_S)
    assert (third["status"], third["revision"]) == ("deployed", 5)
    assert history(runner, namespace)[2:] == [(3, "pending-upgrade"), (4, "superseded"), (5, "deployed")]
    assert recover_if_stuck(runner, RELEASE, namespace) is None

    assert uninstall(runner, RELEASE, namespace) is True
    assert release_status(runner, RELEASE, namespace) is None
    assert uninstall(runner, RELEASE, namespace) is False  # not found counts as done
    assert uninstall(runner, RELEASE, "no-such-namespace") is False


def test_a_first_install_left_pending_is_uninstalled(runner, namespace):
    install_or_upgrade(runner, RELEASE, namespace, LOCAL_CHART, VALUES, TIMEOUT_S)
    leave_pending(runner, namespace, 1, "pending-install")
    assert recover_if_stuck(runner, RELEASE, namespace) == \
        "uninstalled pending-install revision 1 (no revision was ever deployed)"
    assert release_status(runner, RELEASE, namespace) is None
    assert recover_if_stuck(runner, RELEASE, namespace) is None


def test_deployments_are_pending_without_nodes_and_ready_once_workloads_have_had_time(stack):
    name, _ = active_cluster(stack)  # no node group yet: nothing can run
    # Readiness is read with kubectl alone, so one layer is enough here.
    with cluster_session(stack.client("eks"), stack.client("sts"), name, bin_dir=str(tool_path("helm").parent),
                         timeout=TIMEOUT_S) as runner:
        install_or_upgrade(runner, RELEASE, "hub", LOCAL_CHART, VALUES, TIMEOUT_S)
        ready, pending = deployments_ready(runner, "hub")
        assert ready == [] and set(pending) >= {"binder", "hub", "proxy"}
        add_nodegroup(stack, name, desired=1)
        stack.clock.advance(stack.clusters.timings.workload_ready)
        # The hub mounts its database claim, which no storage class serves without the EBS CSI add-on.
        ready, pending = eventually(lambda: (lambda r, p: {"binder", "proxy"} <= set(r) and (r, p))(
            *deployments_ready(runner, "hub")))
        assert "hub" in pending
        ebs_csi(stack, name)
        stack.clock.advance(stack.clusters.timings.volume_ready + stack.clusters.timings.workload_ready)
        ready, pending = eventually(lambda: (lambda r, p: None if p else (r, p))(*deployments_ready(runner, "hub")))
        assert set(ready) >= {"binder", "hub", "proxy"}
        assert deployments_ready(runner, "no-such-namespace") == ([], [])


def test_a_bad_chart_path_fails_with_helms_message(runner, namespace):
    with pytest.raises(KubeCommandFailed) as raised:
        install_or_upgrade(runner, RELEASE, namespace, ["/no/such/charts/binderhub"], VALUES, TIMEOUT_S)
    assert not isinstance(raised.value, KubeNotFound)
    assert 'path "/no/such/charts/binderhub" not found' in str(raised.value)


def test_a_bad_chart_version_fails_with_helms_message(runner, namespace, chart_repo):
    reference = charts.Chart("binderhub", charts.BINDERHUB.repository, "0.0.0-no-such-version").reference(chart_repo)
    with pytest.raises(KubeCommandFailed) as raised:
        install_or_upgrade(runner, RELEASE, namespace, reference, VALUES, TIMEOUT_S)
    assert type(raised.value) is KubeCommandFailed  # permanent: neither transient nor a missing release
    assert 'chart "binderhub" version "0.0.0-no-such-version" not found' in str(raised.value)


def test_values_the_chart_rejects_fail_without_revealing_the_secrets(runner, namespace):
    old_style = {**VALUES, "cors": {"allowOrigin": "*"}}  # removed setting: NOTES.txt calls fail
    with pytest.raises(KubeCommandFailed) as raised:
        install_or_upgrade(runner, RELEASE, namespace, LOCAL_CHART, old_style, TIMEOUT_S)
    text = str(raised.value) + raised.value.command
    assert "cors" in text
    assert SECRETS.registry.password not in text and SECRETS.github_token not in text
    assert "--values" in raised.value.command


def test_apply_manifest_is_idempotent(runner, namespace):
    runner.kubectl("create", "namespace", namespace)
    config_map = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "settings", "namespace": namespace}, "data": {"a": "1"}}
    assert apply_manifest(runner, config_map) == "configmap/settings"
    assert apply_manifest(runner, config_map) == "configmap/settings"
    apply_manifest(runner, {**config_map, "data": {"a": "2"}})
    stored = json.loads(runner.kubectl("get", "configmap", "settings", "--namespace", namespace, "-o", "json"))
    assert stored["data"] == {"a": "2"}
