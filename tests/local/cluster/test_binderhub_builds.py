"""BinderHub's build stream on a cluster's objects, on a clock the test moves: builds, refusals, launches.

A bare object store holds what the BinderHub chart installs (its Secrets, the builder DaemonSet's status, a node);
the stream is read as nginx relays it, each delay moved on the test's clock. The same stand-in answers through
the ingress in test_binderhub_launch.py.
"""
import base64
import json
from datetime import datetime, timezone

import yaml

from coursehub_local.cluster import binderhub_builds
from coursehub_local.kube.store import ObjectStore

NS, RELEASE = "binderhub", "binderhub"
PREFIX = "courses/binder-"  # a DockerHub image prefix: DockerHub itself is not simulated
SPEC = "binder-examples/requirements/HEAD"
EVENT_STREAM = {"accept": "text/event-stream", "host": "binder.courses.example.edu", "x-real-ip": "203.0.113.9"}


class ManualClock:
    """Simulated time that moves only when the test says."""

    def __init__(self):
        self.t = 1_800_000_000.0

    def time(self):
        return self.t

    def now(self):
        return datetime.fromtimestamp(self.t, tz=timezone.utc)

    def real_seconds(self, simulated):
        return 3600.0  # the stand-in's timers never fire during a test: only the streams move the builds

    def advance(self, seconds):
        self.t += max(seconds, 0)


def secret(name, **data):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NS},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def docker_config(*urls):
    return json.dumps({"auths": {url: {"auth": base64.b64encode(b"courses:secret").decode()} for url in urls}})


def cluster(builder_ready=True, guarantee="1G", node_memory="7518Mi", auths=("https://index.docker.io/v1/",)):
    """What a BinderHub install leaves: its config Secrets, the dind DaemonSet, one Ready m5.large node."""
    store = ObjectStore()
    store.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    store.put_object(secret("binder-secret", **{"values.yaml": yaml.safe_dump(
        {"config": {"BinderHub": {"image_prefix": PREFIX, "hub_url": "https://hub.courses.example.edu",
                                  "use_registry": True}},
         "imageBuilderType": "dind", "dind": {"hostSocketDir": "/var/run/dind"}})}))
    store.put_object(secret("hub", **{"values.yaml": yaml.safe_dump(
        {"Chart": {"Name": "jupyterhub", "Version": "4.2.0"}, "Release": {"Name": RELEASE, "Namespace": NS},
         "singleuser": {"memory": {"guarantee": guarantee}, "startTimeout": 300, "cmd": ["jupyterhub-singleuser"]}})}))
    store.put_object(secret("binder-build-docker-config", **{"config.json": docker_config(*auths)}))
    store.put_object({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": f"{RELEASE}-dind",
                                                                                 "namespace": NS},
                      "spec": {"selector": {"matchLabels": {"name": "dind"}},
                               "template": {"metadata": {"labels": {"name": "dind"}},
                                            "spec": {"containers": [{"name": "dind", "image": "docker"}]}}},
                      "status": {"numberReady": 1 if builder_ready else 0, "desiredNumberScheduled": 1}})
    store.put_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "ip-10-0-1-10.ec2.internal"},
                      "status": {"allocatable": {"memory": node_memory},
                                 "conditions": [{"type": "Ready", "status": "True"}]}})
    return store


def read(store, clock, spec=SPEC, until=None, headers=EVENT_STREAM):
    """The stream's events (keepalives as ":keepalive"), read as nginx relays it; stops after ``until`` matches."""
    status, chunks = binderhub_builds.respond_build(store, clock, NS, RELEASE, f"/build/gh/{spec}", headers)
    assert status == 200
    events = []
    for delay, chunk in chunks:
        clock.advance(delay)
        for block in chunk.decode().split("\n\n"):
            if block.startswith("data: "):
                events.append(json.loads(block[len("data: "):]))
            elif block == ":keepalive":
                events.append(":keepalive")
        if until and events and until(events[-1]):
            chunks.close()
            break
    return events


def phases(events):
    return [e["phase"] for e in events if isinstance(e, dict)]


def test_a_build_runs_pushes_and_launches_a_pod_that_fits(tmp_path):
    store, clock = cluster(), ManualClock()
    start = clock.time()
    events = read(store, clock)
    assert events[0] == {"phase": "waiting", "message": "Waiting for build to start...\n"}
    assert phases(events)[:3] == ["waiting", "fetching", "fetching"]
    assert {"phase": "building", "message": "Using PythonBuildPack builder\n"} in events
    built = next(e for e in events if isinstance(e, dict) and e["phase"] == "built")
    image = built["imageName"]
    assert image.startswith(PREFIX + "binder-2dexamples-2drequirements-55ab5c:") and built["message"] == \
        "Built image, launching...\n"
    assert any(e.get("message") == f"Successfully pushed {image}" for e in events if isinstance(e, dict))
    assert ":keepalive" in events  # the build takes longer than one KEEPALIVE_INTERVAL
    log = b"".join(binderhub_builds.data(e) for e in events if isinstance(e, dict) and e["phase"] in
                   ("fetching", "building", "pushing"))
    assert 2000 < len(log) < 20000

    launching = [e["message"] for e in events if isinstance(e, dict) and e["phase"] == "launching"]
    assert launching[0] == "Launching server...\n" and launching[1] == "Server requested\n"
    assert any("[Normal] Successfully assigned binderhub/jupyter-binder-examples-requirements-" in m
               for m in launching)
    ready = [e for e in events if isinstance(e, dict)][-1]
    assert ready["phase"] == "ready"
    username = ready["url"].split("/user/")[1].rstrip("/")
    assert ready["url"] == f"https://hub.courses.example.edu/user/{username}/"
    assert ready["message"] == f"server running at {ready['url']}\n"
    assert ready["image"] == image and ready["repo_url"] == "https://github.com/binder-examples/requirements"
    assert launching[-1] == f"Server ready at /user/{username}/\n"

    pod = store.get_object("v1", "Pod", NS, f"jupyter-{username}")
    labels = pod["metadata"]["labels"]
    assert {k: labels[k] for k in ("app", "component", "release", "hub.jupyter.org/username")} == {
        "app": "jupyterhub", "component": "singleuser-server", "release": RELEASE, "hub.jupyter.org/username": username}
    container = pod["spec"]["containers"][0]
    assert f"--NotebookApp.token={ready['token']}" in container["args"]
    assert f"--NotebookApp.base_url=/user/{username}/" in container["args"]
    assert container["resources"]["requests"]["memory"] == str(2 ** 30)  # 1G as JupyterHub's ByteSpecification
    assert pod["spec"]["nodeName"] == "ip-10-0-1-10.ec2.internal"
    assert pod["status"]["phase"] == "Running"
    assert {"type": "Ready", "status": "True"}.items() <= next(
        c for c in pod["status"]["conditions"] if c["type"] == "Ready").items()
    # a fresh build takes a couple of minutes; the stream stays open 60 s after ready
    assert 120 < clock.time() - start < 300


def test_a_reconnect_during_the_build_reattaches_and_replays_its_log():
    store, clock = cluster(), ManualClock()
    first = read(store, clock, until=lambda e: isinstance(e, dict) and e.get("message", "").startswith("Step 3/"))
    assert phases(first)[0] == "waiting"
    clock.advance(20)  # the client is gone; the build goes on
    second = read(store, clock)
    assert second[0]["phase"] == "waiting"
    replayed = [e for e in second if isinstance(e, dict) and e["phase"] in ("fetching", "building")]
    assert replayed[0] == {"message": "Picked Git content provider.\n", "phase": "fetching"}
    assert [e for e in first if isinstance(e, dict) and e["phase"] in ("fetching", "building")] == \
        replayed[:len([e for e in first if isinstance(e, dict) and e["phase"] in ("fetching", "building")])]
    assert sum(e == {"message": "Picked Git content provider.\n", "phase": "fetching"} for e in second) == 1
    builds = binderhub_builds.state(store, clock).builds
    assert len(builds) == 1  # one build pod of that name, never a second
    assert phases(second)[-1] == "ready"

    third = read(store, clock)  # the image is in the registry now: no build
    assert third[0]["phase"] == "built" and third[0]["message"] == "Found built image, launching...\n"
    assert "waiting" not in phases(third) and phases(third)[-1] == "ready"
    assert len(builds) == 1


def test_without_a_ready_builder_the_build_waits_until_the_cleaner_fails_it():
    store, clock = cluster(builder_ready=False), ManualClock()
    start = clock.time()
    events = read(store, clock)
    assert phases(events) == ["waiting", "failed"]
    assert events[-1] == ":keepalive" or events[-1] == {"phase": "failed"}
    assert clock.time() - start >= binderhub_builds.BUILD_MAX_AGE
    assert events.count(":keepalive") > 500  # the stream stays open, quiet but for keepalives


def test_a_push_without_a_dockerhub_login_is_refused_and_the_build_fails():
    store, clock = cluster(auths=("https://quay.io",)), ManualClock()
    events = read(store, clock)
    refusal = "denied: requested access to the resource is denied"
    pushing = [e for e in events if isinstance(e, dict) and e["phase"] == "pushing"]
    assert pushing and pushing[0]["message"] == "Pushing image\n"
    assert {"message": refusal, "phase": "failed"} in events
    assert {"message": f"Error during build: {refusal}", "phase": "failed"} in events
    assert phases(events)[-1] == "failed" and "built" not in phases(events) and "launching" not in phases(events)
    assert binderhub_builds.state(store, clock).pushed == set()


def test_a_pod_bigger_than_any_nodes_free_memory_never_schedules_and_the_launch_fails():
    store, clock = cluster(guarantee="8G"), ManualClock()
    events = read(store, clock)
    launching = [e["message"] for e in events if isinstance(e, dict) and e["phase"] == "launching"]
    unschedulable = [m for m in launching if "[Warning] 0/1 nodes are available: 1 Insufficient memory." in m]
    assert len(unschedulable) == 4  # one pod per attempt, each a new anonymous user
    assert "Server launch is taking longer than expected. Please be patient! Current time spent waiting: " \
           "60 seconds.\n" in launching
    assert [m for m in launching if m.startswith("Launch attempt")] == [
        "Launch attempt 1 failed, retrying...\n", "Launch attempt 2 failed, retrying...\n",
        "Launch attempt 3 failed, retrying...\n"]
    assert events[-1] == {"phase": "failed", "status_code": 500, "message": "Spawn failed: \n"}
    assert launching.count("Spawn failed: \n") == 4
    # JupyterHub stopped each server that did not start: no user pod is left
    assert [p for p in store.list(store.resource_type("v1", "Pod"), NS)[0]] == []


def test_without_hub_url_the_server_url_is_on_the_host_of_the_hubs_ingress():
    store, clock = cluster(), ManualClock()
    stored = store.get_object("v1", "Secret", NS, "binder-secret")
    values = yaml.safe_load(base64.b64decode(stored["data"]["values.yaml"]))
    del values["config"]["BinderHub"]["hub_url"]
    store.put_object(secret("binder-secret", **{"values.yaml": yaml.safe_dump(values)}))
    store.put_object({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                      "metadata": {"name": "jupyterhub", "namespace": NS},
                      "spec": {"rules": [{"host": "hub.example.org", "http": {"paths": [
                          {"path": "/", "pathType": "Prefix",
                           "backend": {"service": {"name": "proxy-public", "port": {"name": "http"}}}}]}}]}})
    ready = [e for e in read(store, clock) if isinstance(e, dict)][-1]
    assert ready["phase"] == "ready" and ready["url"].startswith("https://hub.example.org/user/")


def test_a_request_that_is_not_an_event_source_or_names_no_provider_fails_as_binderhub_says():
    store, clock = cluster(), ManualClock()
    status, chunks = binderhub_builds.respond_build(store, clock, NS, RELEASE, f"/build/gh/{SPEC}",
                                                    {"accept": "text/html"})
    assert status == 400 and b"Missing Accept header: text/event-stream" in b"".join(c for _, c in chunks)
    assert read(store, clock, spec="x/y")[0]["message"] == 'Spec is not of the form "user/repo/ref", provided: "x/y".\n'
    status, chunks = binderhub_builds.respond_build(store, clock, NS, RELEASE, "/build/zz/a/b/c", EVENT_STREAM)
    assert [json.loads(c[6:]) for _, c in chunks] == [
        {"phase": "failed", "message": "No provider found for prefix zz\n"}]
