"""The hub's ECR against the stand-in ECR: the template the product makes is one ECR accepts and a first push creates
its repository from it; a teardown keeps archived repositories (no template left to create more) or deletes them;
a renewal ECR refuses is said on Slack and fails, for the Scheduler to try again."""
import json
import uuid

import pytest

from chalicelib import audit, hub_names, hub_records, image_registry
from chalicelib.hub_request import HubRequest, Limits
from coursehub_local.ecr_push import RegistryRefusal, push_image
from tests.conftest import eventually
from tests.local.test_provision_workflow import ecr_request

pytestmark = pytest.mark.local_stack


def test_a_retired_hubs_archived_repositories_stay_and_a_later_teardown_deletes_them(stack):
    ecr, stage, course = stack.client("ecr"), stack.config.stage, f"a{uuid.uuid4().hex[:6]}"
    prefix = image_registry.repository_prefix(stage, course)
    tags = hub_names.tags(stage, f"hub-{course}", course)
    assert image_registry.prepare(ecr, prefix, tags, 3, stack.seeded.environment["ECR_CREATION_ROLE_ARN"]) == {
        "prefix": prefix, "template": "created", "images_per_repository": 3}
    login = image_registry.login(ecr)

    def push(name):
        return push_image(f"{login.host}/{prefix}/{name}:1", image_registry.docker_config(login), stack.clock.now())

    assert push("binder-x").created_repository
    kept = image_registry.remove(ecr, prefix, keep_images=True)
    assert (kept["template"], kept["kept"], kept["deleted"]) == ("deleted", [f"{prefix}/binder-x"], [])
    assert left_in_ecr(stack, prefix, keep_images=True) == {"ecr_templates": [], "ecr_repositories": []}
    with pytest.raises(RegistryRefusal, match="name unknown"):  # no template: a new repository is not created
        push("binder-y")
    assert not push("binder-x").created_repository  # an archived repository still takes pushes
    deleted = image_registry.remove(ecr, prefix, keep_images=False)
    assert (deleted["template"], deleted["deleted"]) == ("already gone", [f"{prefix}/binder-x"])
    assert left_in_ecr(stack, prefix, keep_images=False) == {"ecr_templates": [], "ecr_repositories": []}


def left_in_ecr(stack, prefix, keep_images):
    """What the teardown's audit would find of the hub in ECR."""
    return audit.find(stack.client, cluster="coursehub-none", registry_prefix=prefix, keep_images=keep_images,
                      kinds=("ecr_templates", "ecr_repositories"))


def test_a_renewal_ecr_refuses_is_said_on_slack_and_raised_for_the_scheduler_to_retry(stack):
    course = f"r{uuid.uuid4().hex[:6]}"
    hub_id, table = f"hub-{course}", stack.seeded.environment["HUB_TABLE_NAME"]
    dynamodb = stack.client("dynamodb")
    request = HubRequest.parse(ecr_request(stack, course), Limits()).model_dump(mode="json")
    hub_records.create(dynamodb, table, hub_id, request, cluster=hub_names.cluster_name(stack.config.stage, course))
    hub_records.set_status(dynamodb, table, hub_id, "READY")
    before = len(stack.slack.texts())
    fault = stack.faults.inject("ecr", "GetAuthorizationToken", kind="denied", times=None)
    try:
        answer = stack.client("lambda").invoke(FunctionName=f"coursehub-{stack.config.stage}-renew_registry_login",
                                               Payload=json.dumps({"hub_id": hub_id}).encode())
    finally:
        stack.faults.clear(fault.id)
    error = json.loads(answer["Payload"].read())
    assert answer.get("FunctionError") and error["errorType"] == "RegistryLoginNotRenewed", error
    text = eventually(lambda: [t for t in stack.slack.texts()[before:] if hub_id in t or course in t], timeout=10)[0]
    assert text.startswith(f"The ECR login of the BinderHub of course {course} could not be renewed")
    assert "AccessDeniedException" in text and "the schedule tries again" in text
    assert "registry_login" not in hub_records.get(dynamodb, table, hub_id)
    hub_records.set_status(dynamodb, table, hub_id, "RETIRED")  # it had no cluster: nothing else to retire
