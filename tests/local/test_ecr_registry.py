"""ECR on the local stack: creation templates, 12-hour tokens, and pushes refused where ECR refuses them."""
import base64
import json
from datetime import timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from coursehub_local import moto_patches
from coursehub_local.stack import CREDENTIALS
from tests.local.ecr_helpers import KEEP_FIVE, ecr, host, on_push, prefix  # noqa: F401 - fixtures

def error_code(raised):
    return raised.value.response["Error"]["Code"]


# -- repository creation templates ---------------------------------------------------------------------------------
def test_a_template_is_created_described_updated_and_deleted(ecr, prefix):
    created = on_push(ecr, prefix, description="course images", resourceTags=[{"Key": "hub", "Value": "h1"}],
                      lifecyclePolicy=KEEP_FIVE)["repositoryCreationTemplate"]
    assert created["prefix"] == prefix and created["appliedFor"] == ["CREATE_ON_PUSH"]
    assert created["imageTagMutability"] == "MUTABLE"  # the default
    assert created["resourceTags"] == [{"Key": "hub", "Value": "h1"}]
    assert created["createdAt"] == created["updatedAt"]

    (described,) = ecr.describe_repository_creation_templates(prefixes=[prefix])["repositoryCreationTemplates"]
    assert described["lifecyclePolicy"] == KEEP_FIVE
    assert prefix in [t["prefix"] for t in ecr.describe_repository_creation_templates()["repositoryCreationTemplates"]]

    updated = ecr.update_repository_creation_template(
        prefix=prefix, imageTagMutability="IMMUTABLE")["repositoryCreationTemplate"]
    assert updated["imageTagMutability"] == "IMMUTABLE" and updated["description"] == "course images"

    ecr.delete_repository_creation_template(prefix=prefix)
    assert ecr.describe_repository_creation_templates(prefixes=[prefix])["repositoryCreationTemplates"] == []


def test_a_second_template_for_a_prefix_is_refused(ecr, prefix):
    on_push(ecr, prefix)
    for same in (prefix, prefix + "/"):  # "There is always an assumed / applied to the end of the prefix"
        with pytest.raises(ClientError) as again:
            on_push(ecr, same)
        assert error_code(again) == "TemplateAlreadyExistsException"


def test_updating_or_deleting_a_template_that_does_not_exist_is_refused(ecr, prefix):
    with pytest.raises(ClientError) as update:
        ecr.update_repository_creation_template(prefix=prefix, description="x")
    with pytest.raises(ClientError) as delete:
        ecr.delete_repository_creation_template(prefix=prefix)
    assert error_code(update) == error_code(delete) == "TemplateNotFoundException"


@pytest.mark.parametrize("field, value", [
    ("prefix", "Hub/Upper"), ("prefix", "hub//double"), ("prefix", "-dash"),
    ("appliedFor", ["CREATE_ON_PUSH", "ON_PULL"]),
    ("imageTagMutability", "SOMETIMES"),
    ("encryptionConfiguration", {"encryptionType": "ROT13"}),
])
def test_a_template_outside_the_models_constraints_is_refused(ecr, prefix, field, value):
    request = {"prefix": prefix, "appliedFor": ["CREATE_ON_PUSH"], field: value}
    with pytest.raises(ClientError) as refused:
        ecr.create_repository_creation_template(**request)
    assert error_code(refused) == "ValidationException"
    assert field.split(".")[0] in refused.value.response["Error"]["Message"]
    assert ecr.describe_repository_creation_templates(prefixes=[prefix])["repositoryCreationTemplates"] == []


@pytest.mark.parametrize("field, value", [
    ("lifecyclePolicy", "keep five"),
    ("lifecyclePolicy", json.dumps({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any"},
                                               "action": {"type": "expire"}}]})),  # no countType
    ("repositoryPolicy", "{not json"),
])
def test_a_template_with_an_invalid_policy_is_refused(ecr, prefix, field, value):
    with pytest.raises(ClientError) as refused:
        on_push(ecr, prefix, **{field: value})
    assert error_code(refused) == "InvalidParameterException"
    on_push(ecr, prefix)
    with pytest.raises(ClientError) as update:
        ecr.update_repository_creation_template(prefix=prefix, **{field: value})
    assert error_code(update) == "InvalidParameterException"


def test_templates_are_described_a_page_at_a_time(ecr, prefix):
    prefixes = [f"{prefix}/{n}" for n in range(3)]
    try:
        for name in prefixes:
            on_push(ecr, name)
        first = ecr.describe_repository_creation_templates(prefixes=prefixes, maxResults=2)
        rest = ecr.describe_repository_creation_templates(prefixes=prefixes, maxResults=2,
                                                          nextToken=first["nextToken"])
        assert [t["prefix"] for t in first["repositoryCreationTemplates"] + rest["repositoryCreationTemplates"]] \
            == prefixes
        assert "nextToken" not in rest
        with pytest.raises(ClientError) as invalid:
            ecr.describe_repository_creation_templates(prefixes=[prefix, "Not A Prefix"])
        assert error_code(invalid) == "ValidationException"
    finally:
        for name in prefixes:
            ecr.delete_repository_creation_template(prefix=name)


def test_templates_belong_to_one_region(stack, ecr, prefix):
    on_push(ecr, prefix)
    other = boto3.client("ecr", endpoint_url=stack.endpoint, region_name="eu-west-1", **CREDENTIALS)
    assert other.describe_repository_creation_templates(prefixes=[prefix])["repositoryCreationTemplates"] == []


# -- authorization tokens ------------------------------------------------------------------------------------------
def test_each_token_is_new_and_valid_for_twelve_hours_of_stack_time(stack, ecr):
    first, second = (ecr.get_authorization_token()["authorizationData"][0] for _ in range(2))
    assert first["authorizationToken"] != second["authorizationToken"]
    user, _, password = base64.b64decode(first["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and len(password) > 64
    assert abs(first["expiresAt"] - (stack.clock.now() + timedelta(hours=12))) < timedelta(minutes=5)
    assert first["proxyEndpoint"] == f"https://{host(stack)}"
    account = host(stack).split(".")[0]
    issued = moto_patches.ecr_registry(account, stack.config.region).issued(password)
    assert issued.access_key == CREDENTIALS["aws_access_key_id"]  # who asked for it


@pytest.mark.parametrize("registry_id", ["12345", "not-an-account", "1234567890123"])
def test_a_token_for_something_other_than_an_account_id_is_refused(ecr, registry_id):
    with pytest.raises(ClientError) as refused:
        ecr.get_authorization_token(registryIds=[registry_id])
    assert error_code(refused) == "InvalidParameterException"
