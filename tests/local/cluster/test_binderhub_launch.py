"""A helm-installed BinderHub on a stack cluster builds, pushes to the stack's ECR and launches, over HTTPS.

The tests run in file order on one cluster (m5.large nodes); what breaks a launch is changed the way an
operator would change it (the build Secret, the chart's values, the builder DaemonSet) and put back.
"""
import base64
import json
import threading

import pytest
import requests
import yaml

from chalicelib.values import f5_ingress_annotations
from coursehub_local.charts import chart_path
from tests.conftest import eventually
from tests.local.cluster.test_cluster_api import kubectl
from tests.local.cluster.test_hub_https import ZONE, Hub, ingress_values, publish, ready
from tests.local.ecr_helpers import host, on_push

BINDER, HUB = f"launch.{ZONE}", f"hub.launch.{ZONE}"
REPO = "binder-examples/requirements/HEAD"


def annotated(host_name, secret, service):
    values = ingress_values(host_name, secret)
    values["annotations"].update(f5_ingress_annotations(service))  # unbuffered, long read timeout, WebSockets
    return values


class Launch:
    """The hub: its cluster, its values, its ECR prefix."""

    def __init__(self, stack, tmp, prefix):
        self.stack, self.hub, self.prefix = stack, Hub(stack, tmp), prefix
        self.ecr = stack.client("ecr")
        self.registry = host(stack)
        self.values = {
            "service": {"type": "ClusterIP"}, "imageBuilderType": "dind",
            "registry": {"url": f"https://{self.registry}", "username": "AWS", "password": self.password()},
            "config": {"BinderHub": {"use_registry": True, "image_prefix": f"{self.registry}/{prefix}/",
                                     "hub_url": f"https://{HUB}"}},
            "ingress": annotated(BINDER, "launch-binder-tls", "binder"),
            "jupyterhub": {"proxy": {"service": {"type": "ClusterIP"}},
                           "ingress": annotated(HUB, "launch-hub-tls", "proxy-public")},
        }

    def password(self):
        token = self.ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
        return base64.b64decode(token).decode().partition(":")[2]

    def upgrade(self, values):
        path = self.hub.tmp / "upgrade.yaml"
        path.write_text(yaml.safe_dump(values))
        self.hub.helm("upgrade", "binderhub", str(chart_path("binderhub")), "-n", "binderhub", "-f", str(path))
        self.stack.clock.advance(self.stack.clusters.timings.workload_ready)

    def store(self):
        return self.stack.clusters.server(self.hub.name).store


def events(spec=REPO, stop=("ready", "failed"), on_event=None):
    """The build stream's events up to the first ``stop`` phase, as an EventSource client reads them."""
    with requests.get(f"https://{BINDER}/build/gh/{spec}", headers={"Accept": "text/event-stream"}, stream=True,
                      timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["cache-control"] == "no-cache"
        seen = []
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                seen.append(json.loads(line[len("data: "):]))
                if on_event:
                    on_event(seen[-1])
                if seen[-1]["phase"] in stop:
                    return seen
        return seen


@pytest.fixture(scope="module")
def launch(stack, tmp_path_factory):
    """nginx-ingress, cert-manager and BinderHub (dind builder, ECR) installed, published and certified."""
    ecr = stack.client("ecr")
    prefix = f"launch-{stack.clock.now():%H%M%S}"
    on_push(ecr, prefix)  # what "Prepare the image registry" leaves: repositories are created on push
    hub = Launch(stack, tmp_path_factory.mktemp("launch"), prefix)
    hub.hub.install_all(hub.values)
    publish(stack, BINDER, HUB, target=hub.hub.ingress_hostname())
    stack.clock.advance(stack.clusters.timings.certificate_issue + 10)
    for name in ("launch-binder-tls", "launch-hub-tls"):
        eventually(lambda: ready(hub.hub.get("certificate", name)), timeout=15)
    eventually(lambda: (hub.hub.get("daemonset", "binderhub-dind") or {}).get("status", {}).get("numberReady"))
    yield hub
    ecr.delete_repository_creation_template(prefix=prefix)


def test_a_build_pushes_to_ecr_and_launches_a_user_pod_on_a_node_that_fits(stack, launch):
    seen = events()
    assert [e["phase"] for e in seen][:2] == ["waiting", "fetching"]
    built = next(e for e in seen if e["phase"] == "built")
    image = built["imageName"]
    repository, tag = image.split("/", 1)[1].rsplit(":", 1)
    assert image.startswith(f"{launch.registry}/{launch.prefix}/binder-2dexamples-2drequirements-55ab5c:")
    (pushed,) = launch.ecr.describe_images(repositoryName=repository)["imageDetails"]
    assert pushed["imageTags"] == [tag]

    done = seen[-1]
    assert done["phase"] == "ready" and done["image"] == image
    assert done["url"].startswith(f"https://{HUB}/user/binder-examples-requirements-")
    username = done["url"].rstrip("/").rsplit("/", 1)[1]
    pod = launch.hub.get("pod", f"jupyter-{username}")
    assert pod["metadata"]["labels"]["component"] == "singleuser-server"
    assert pod["metadata"]["labels"]["release"] == "binderhub"
    assert f"--NotebookApp.token={done['token']}" in pod["spec"]["containers"][0]["args"]
    assert pod["status"]["phase"] == "Running"
    # The BinderHub chart sets jupyterhub.singleuser.memory.guarantee to null, which drops the subchart's 1G:
    # the installed release's hub values hold no guarantee, so the user pod requests no memory.
    hub_values = yaml.safe_load(base64.b64decode(launch.hub.get("secret", "hub")["data"]["values.yaml"]))
    assert "guarantee" not in hub_values["singleuser"]["memory"]
    assert pod["spec"]["containers"][0]["resources"] == {}
    node = launch.hub.get("node", pod["spec"]["nodeName"], namespace="default")
    assert node["status"]["allocatable"]["memory"] == f"{8192 - (11 * 29 + 255) - 100}Mi"  # m5.large on the EKS AMI


def test_the_same_repository_again_finds_its_image_and_launches_without_building(stack, launch):
    seen = events()
    assert seen[0]["phase"] == "built" and seen[0]["message"] == "Found built image, launching...\n"
    assert "waiting" not in [e["phase"] for e in seen] and seen[-1]["phase"] == "ready"


def test_a_push_without_an_ecr_login_or_with_an_expired_one_is_refused(stack, launch):
    secret = launch.hub.get("secret", "binder-build-docker-config")
    dockerhub_only = json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": base64.b64encode(
        b"courses:secret").decode()}}})
    changed = dict(secret, data={"config.json": base64.b64encode(dockerhub_only.encode()).decode()})
    kubectl(launch.hub.config, "apply", "-f", "-", stdin=json.dumps(changed))
    seen = events("binder-examples/conda/HEAD")
    assert seen[-1] == {"message": "no basic auth credentials", "phase": "failed"}
    assert seen[-2]["phase"] == "pushing"

    launch.upgrade(launch.values)  # helm writes the Secret back from the values
    stack.clock.advance(12 * 3600 + 60)  # ECR's token has expired
    seen = events("binder-examples/conda/HEAD")
    assert seen[-1] == {"message": "denied: Your authorization token has expired. Reauthenticate and try again.",
                        "phase": "failed"}
    with pytest.raises(launch.ecr.exceptions.RepositoryNotFoundException):
        launch.ecr.describe_repositories(repositoryNames=[f"{launch.prefix}/binder-2dexamples-2dconda-"])
    launch.values["registry"]["password"] = launch.password()  # what the renewal writes
    launch.upgrade(launch.values)
    assert events("binder-examples/conda/HEAD")[-1]["phase"] == "ready"


def test_a_push_to_dockerhub_needs_a_dockerhub_login(stack, launch):
    dockerhub = dict(launch.values, config={"BinderHub": dict(launch.values["config"]["BinderHub"],
                                                              image_prefix="courses/binder-")})
    launch.upgrade(dockerhub)  # the ECR login is all the build has
    seen = events("binder-examples/julia/HEAD")
    assert seen[-1] == {"message": "denied: requested access to the resource is denied", "phase": "failed"}
    with_login = dict(dockerhub, registry={"username": "courses", "password": "hub-password"})  # chart default url
    launch.upgrade(with_login)
    assert events("binder-examples/julia/HEAD")[-1]["phase"] == "ready"
    launch.upgrade(launch.values)


def test_a_user_pod_bigger_than_any_nodes_free_memory_fails_the_launch(stack, launch):
    bigger = dict(launch.values, jupyterhub=dict(launch.values["jupyterhub"],
                                                 singleuser={"memory": {"guarantee": "16G"}}))
    launch.upgrade(bigger)
    seen = events()
    messages = [e["message"] for e in seen if e["phase"] == "launching"]
    assert any("[Warning] 0/1 nodes are available: 1 Insufficient memory." in m for m in messages)
    assert "Launch attempt 1 failed, retrying...\n" in messages
    assert seen[-1] == {"phase": "failed", "status_code": 500, "message": "Spawn failed: \n"}
    launch.upgrade(launch.values)


def test_without_a_ready_builder_a_build_waits_until_the_cleaner_fails_it(stack, launch):
    kubectl(launch.hub.config, "delete", "daemonset", "binderhub-dind", "-n", "binderhub")
    waiting = threading.Event()
    result = {}

    def follow():
        result["seen"] = events("binder-examples/r/HEAD", stop=("failed",),
                                on_event=lambda e: e["phase"] == "waiting" and waiting.set())
    reader = threading.Thread(target=follow)
    reader.start()
    assert waiting.wait(15)
    stack.clock.advance(4 * 3600 + 120)  # KubernetesCleaner's max_age and one cleanup interval
    reader.join(30)
    assert result["seen"] == [{"phase": "waiting", "message": "Waiting for build to start...\n"}, {"phase": "failed"}]
    launch.upgrade(launch.values)  # helm creates the DaemonSet again
    eventually(lambda: (launch.hub.get("daemonset", "binderhub-dind") or {}).get("status", {}).get("numberReady"))
