"""The launch check on the local stack: a hub is READY only once a test repository was built, its image pushed,
a server launched and a cell run through the hub's public names; each broken piece fails the check naming its
phase, with the cause from BinderHub's event stream or the kernel, and leaves no test server behind."""
import base64
import copy
import json
import uuid

import pytest
import yaml

from chalicelib import hub_names, hub_records, image_registry
from coursehub.api_client import ApiClient
from tests.conftest import eventually
from tests.local.test_provision_workflow import ecr_request, provision

pytestmark = pytest.mark.local_stack
NAMESPACE = "binderhub"


class Hub:
    """A READY hub of this module, its cluster's store and the API."""

    def __init__(self, stack, hub_id, course):
        self.stack, self.hub_id, self.course = stack, hub_id, course
        self.api = ApiClient.local(stack.details())
        self.store = stack.clusters.server(hub_names.cluster_name(stack.config.stage, course)).store
        self.tokens: list[str] = []  # every test server's token, as its pod carries it
        self.store.subscribe(self._seen)

    def _seen(self, event):
        obj = event.obj
        if obj.get("kind") == "Pod" and (obj["metadata"].get("labels") or {}).get("component") == "singleuser-server":
            for argument in obj["spec"]["containers"][0].get("args", []):
                if argument.startswith("--NotebookApp.token="):
                    self.tokens.append(argument.split("=", 1)[1])

    def record(self):
        return hub_records.get(self.stack.client("dynamodb"), self.stack.seeded.environment["HUB_TABLE_NAME"],
                               self.hub_id)

    def check(self):
        """POST /hubs/{id}/check and the launch check once it has ended."""
        answer = self.api.check(self.hub_id)
        assert answer.status == 202 and answer.body["launch_check"]["status"] == "RUNNING", answer.body
        started = answer.body["launch_check"]["execution_arn"]
        return eventually(lambda: (c := self.record()["launch_check"])["execution_arn"] == started
                          and c["status"] != "RUNNING" and c, timeout=90)

    def user_pods(self):
        pods = self.store.list(self.store.resource_type("v1", "Pod"), NAMESPACE)[0]
        return [p["metadata"]["name"] for p in pods
                if (p["metadata"].get("labels") or {}).get("component") == "singleuser-server"]

    def ingress_to(self, service):
        for ingress in self.store.list(self.store.resource_type("networking.k8s.io/v1", "Ingress"), NAMESPACE)[0]:
            paths = [p for r in ingress["spec"].get("rules", []) for p in r["http"]["paths"]]
            if any(p["backend"]["service"]["name"] == service for p in paths):
                return ingress
        raise AssertionError(f"no Ingress to {service}")

    def new_repository(self):
        """A repository BinderHub has not built yet (PATCH launch_test): the next check builds and pushes."""
        repository = f"gh/coursehub-tests/r{uuid.uuid4().hex[:8]}/HEAD"
        assert self.api.update(self.hub_id, {"launch_test": {"repository": repository}}).status == 200
        return repository


@pytest.fixture(scope="module")
def hub(stack):
    course = f"l{uuid.uuid4().hex[:6]}"
    hub_id = f"hub-{course}"
    before = len(stack.slack.texts())
    described, history = provision(stack, hub_id, {**ecr_request(stack, course), "user_memory": "1G"})
    assert described["status"] == "SUCCEEDED", described.get("cause")
    ready = Hub(stack, hub_id, course)
    ready.provisioning = (described, history, stack.slack.texts()[before:])
    yield ready
    # retired, so that its login renewals and cluster do not load the rest of this process's tests
    assert ready.api.retire(hub_id).status == 202
    eventually(lambda: ready.record()["status"] == "RETIRED", timeout=120)


def test_a_hub_is_ready_once_a_student_could_launch_its_test_repository_and_run_a_cell(stack, hub):
    described, history, texts = hub.provisioning
    record = hub.record()
    check = record["launch_check"]
    assert record["status"] == "READY" and check["status"] == "PASSED" and check["purpose"] == "provisioning"
    assert check["output"] == "42\n" and check["time_to_first_output_seconds"] > 0
    assert check["repository"] == "gh/binderhub-ci-repos/cached-minimal-dockerfile/HEAD"
    assert record["steps"]["Launch a test repository"]["outcome"] == "SUCCEEDED"
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"] == "TaskStateEntered"]
    assert entered.index("Verify the hub over HTTPS") < entered.index("Launch a test repository") < \
        entered.index("Record the hub as ready")
    # the build pushed its image to the hub's registry: ECR made the repository from the hub's template
    prefix = image_registry.repository_prefix(stack.config.stage, hub.course)
    repositories = stack.client("ecr").describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in repositories if r["repositoryName"].startswith(prefix + "/")]
    assert f"first output after {check['time_to_first_output_seconds']:g} s" in texts[-1]
    assert hub.user_pods() == []  # the test server was stopped
    assert hub.api.get(hub.hub_id).body["launch_check"]["time_to_first_output_seconds"] == \
        check["time_to_first_output_seconds"]


def test_a_check_on_demand_passes_with_the_image_built_before_and_keeps_the_servers_token_to_itself(stack, hub):
    before = len(stack.slack.texts())
    check = hub.check()
    assert check["status"] == "PASSED" and check["purpose"] == "on demand", check
    assert hub.tokens and hub.user_pods() == []
    sfn = stack.client("stepfunctions")
    history = sfn.get_execution_history(executionArn=check["execution_arn"], maxResults=1000)["events"]
    seen = json.dumps(history, default=str) + json.dumps(hub.api.get(hub.hub_id).body) + json.dumps(
        stack.slack.messages())
    assert not [t for t in hub.tokens if t in seen]
    text = eventually(lambda: [t for t in stack.slack.texts()[before:] if hub.course in t])[0]
    assert text.startswith(f"Course {hub.course}: a student can launch") and "first output after" in text


def break_registry_login(hub):
    secret = hub.store.get_object("v1", "Secret", NAMESPACE, "binder-build-docker-config")
    broken = copy.deepcopy(secret)
    broken["data"] = {"config.json": base64.b64encode(json.dumps({"auths": {}}).encode()).decode()}
    hub.store.put_object(broken)
    hub.new_repository()
    return lambda: hub.store.put_object({k: v for k, v in secret.items() if k != "status"})


def remove_the_builder(hub):
    builders = hub.store.list(hub.store.resource_type("apps/v1", "DaemonSet"), NAMESPACE)[0]
    (builder,) = [d for d in builders if d["metadata"]["name"].endswith("-dind")]
    hub.store.delete(hub.store.resource_type("apps/v1", "DaemonSet"), NAMESPACE, builder["metadata"]["name"])
    hub.new_repository()
    kept = {k: v for k, v in builder.items() if k != "status"}
    kept["metadata"] = {k: v for k, v in kept["metadata"].items() if k in ("name", "namespace", "labels",
                                                                            "annotations")}
    return lambda: hub.store.put_object(kept)


def ask_more_memory_than_a_node_has(hub):
    """The hub's config (its Secret ``hub``, values.yaml) guarantees each server 16G; an m5.large has 7.3Gi."""
    secret = hub.store.get_object("v1", "Secret", NAMESPACE, "hub")
    values = yaml.safe_load(base64.b64decode(secret["data"]["values.yaml"]))
    values.setdefault("singleuser", {}).setdefault("memory", {})["guarantee"] = "16G"
    broken = copy.deepcopy(secret)
    broken["data"]["values.yaml"] = base64.b64encode(yaml.safe_dump(values).encode()).decode()
    hub.store.put_object(broken)
    return lambda: hub.store.put_object({k: v for k, v in secret.items() if k != "status"})


def annotate(service, name, value):
    def breaking(hub):
        ingress = hub.ingress_to(service)
        annotations = ingress["metadata"]["annotations"]
        kept = annotations.get(name)
        if value is None:
            annotations.pop(name)
        else:
            annotations[name] = value
        hub.store.put_object(ingress)

        def restore():
            current = hub.ingress_to(service)
            current["metadata"]["annotations"][name] = kept
            hub.store.put_object(current)
        return restore
    return breaking


@pytest.mark.parametrize("breaking, phase, cause", [
    (break_registry_login, "push", "no basic auth credentials"),
    (remove_the_builder, "build", "Waiting for build to start"),
    (ask_more_memory_than_a_node_has, "schedule", "Insufficient memory"),
    (annotate("proxy-public", "nginx.org/websocket-services", None), "connect", "HTTP 400"),
    (annotate("binder", "nginx.org/proxy-buffering", "true"), "build", "nginx.org/proxy-buffering"),
], ids=["no registry credentials", "no builder", "a node too small", "no WebSocket forwarding",
        "a buffering ingress"])
def test_each_broken_piece_fails_the_check_naming_its_phase_and_leaves_no_server(stack, hub, breaking, phase, cause):
    restore = breaking(hub)
    try:
        check = hub.check()
        assert (check["status"], check["phase"]) == ("FAILED", phase), json.dumps(check)
        assert cause in check["cause"], check
        assert hub.record()["status"] == "READY"  # a failed check on demand says so; the hub is not taken down
        eventually(lambda: hub.user_pods() == [], timeout=10)
    finally:
        restore()
    hub.new_repository()  # a build BinderHub gave up on is not tried again under the same name by the stand-in
    assert hub.check()["status"] == "PASSED"  # put right, it passes again


def test_a_scale_up_while_a_check_runs_starts_no_second_check(stack, hub):
    """The morning scale-up starts a check unless one is running (it asks Step Functions whether it still runs)."""
    sfn = stack.client("stepfunctions")
    checks = stack.seeded.state_machines["launch-check"]
    hub.new_repository()  # a build to wait for: the check runs long enough for the scale-up to find it
    running = hub.api.check(hub.hub_id).body["launch_check"]
    started = len(sfn.list_executions(stateMachineArn=checks)["executions"])
    answer = stack.client("lambda").invoke(FunctionName=f"coursehub-{stack.config.stage}-scale_hub",
                                           Payload=json.dumps({"hub_id": hub.hub_id, "direction": "up"}).encode())
    result = json.loads(answer["Payload"].read())
    assert not answer.get("FunctionError") and result["scaled"], result
    assert len(sfn.list_executions(stateMachineArn=checks)["executions"]) == started
    check = eventually(lambda: (c := hub.record()["launch_check"])["status"] != "RUNNING" and c, timeout=90)
    assert check["execution_arn"] == running["execution_arn"] and check["status"] == "PASSED", check
