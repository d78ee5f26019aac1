"""A docker push to ECR on the local stack: accepted with a current token, refused where ECR refuses it."""
import base64
import json

import boto3
import pytest

from coursehub_local.ecr_push import RegistryRefusal, push_image
from coursehub_local.stack import CREDENTIALS
from tests.conftest import eventually
from tests.local.cluster.test_cluster_api import active_cluster
from tests.local.ecr_helpers import KEEP_FIVE, PULL_ONLY, docker_config, ecr, host, on_push, prefix  # noqa: F401


def test_a_push_with_an_expired_token_is_refused_and_a_fresh_token_accepted(stack, ecr, prefix):
    ecr.create_repository(repositoryName=f"{prefix}/course")
    config = docker_config(ecr)
    push_image(f"{host(stack)}/{prefix}/course:v1", config, stack.clock.now())

    stack.clock.advance(12 * 3600)
    with pytest.raises(RegistryRefusal) as expired:
        push_image(f"{host(stack)}/{prefix}/course:v2", config, stack.clock.now())
    assert str(expired.value) == "denied: Your authorization token has expired. Reauthenticate and try again."
    assert expired.value.status == 403

    push_image(f"{host(stack)}/{prefix}/course:v2", docker_config(ecr), stack.clock.now())
    tags = {t for image in ecr.describe_images(repositoryName=f"{prefix}/course")["imageDetails"]
            for t in image.get("imageTags", [])}
    assert tags == {"v1", "v2"}


def test_a_push_with_credentials_ecr_did_not_issue_is_refused(stack, ecr, prefix):
    ecr.create_repository(repositoryName=f"{prefix}/course")
    image = f"{host(stack)}/{prefix}/course:v1"
    forged = {"auths": {f"https://{host(stack)}": {"auth": base64.b64encode(b"AWS:guessed").decode()}}}
    other_region = boto3.client("ecr", endpoint_url=stack.endpoint, region_name="eu-west-1", **CREDENTIALS)
    elsewhere = {"auths": {f"https://{host(stack)}": {"auth": docker_config(other_region)["auths"].popitem()[1]
                                                      ["auth"]}}}
    issued = base64.b64decode(docker_config(ecr)["auths"].popitem()[1]["auth"]).decode().partition(":")[2]
    other_user = {"auths": {host(stack): {"auth": base64.b64encode(f"admin:{issued}".encode()).decode()}}}
    for config in (forged, elsewhere, other_user):
        with pytest.raises(RegistryRefusal) as denied:
            push_image(image, config, stack.clock.now())
        assert denied.value.code == "denied" and denied.value.status == 403
    other_host = {"auths": {"https://index.docker.io/v1/": docker_config(ecr)["auths"].popitem()[1]}}
    with pytest.raises(RegistryRefusal) as none:
        push_image(image, other_host, stack.clock.now())
    assert str(none.value) == "no basic auth credentials"
    assert ecr.describe_images(repositoryName=f"{prefix}/course")["imageDetails"] == []


# -- create on push ------------------------------------------------------------------------------------------------
def test_a_push_creates_its_repository_from_the_create_on_push_template(stack, ecr, prefix):
    on_push(ecr, prefix, resourceTags=[{"Key": "coursehub:hub", "Value": "h1"}], lifecyclePolicy=KEEP_FIVE,
            repositoryPolicy=PULL_ONLY, imageTagMutability="IMMUTABLE")
    pushed = push_image(f"{host(stack)}/{prefix}/binder-course-abc:1f2e", docker_config(ecr), stack.clock.now())
    assert pushed.created_repository and pushed.repository_name == f"{prefix}/binder-course-abc"

    (repository,) = ecr.describe_repositories(repositoryNames=[pushed.repository_name])["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"])["tags"] == [
        {"Key": "coursehub:hub", "Value": "h1"}]
    assert ecr.get_lifecycle_policy(repositoryName=pushed.repository_name)["lifecyclePolicyText"] == KEEP_FIVE
    assert json.loads(ecr.get_repository_policy(repositoryName=pushed.repository_name)["policyText"]) == \
        json.loads(PULL_ONLY)
    (image,) = ecr.describe_images(repositoryName=pushed.repository_name)["imageDetails"]
    assert image["imageTags"] == ["1f2e"] and image["imageDigest"] == pushed.image_digest

    again = push_image(f"{host(stack)}/{prefix}/binder-course-abc:2a3b", docker_config(ecr), stack.clock.now())
    assert not again.created_repository
    with pytest.raises(RegistryRefusal) as immutable:  # the template made the repository's tags immutable
        push_image(f"{host(stack)}/{prefix}/binder-course-abc:1f2e", docker_config(ecr), stack.clock.now())
    assert immutable.value.code == "tag invalid"


def test_a_push_to_a_repository_no_template_creates_is_refused(stack, ecr, prefix):
    account = stack.client("sts").get_caller_identity()["Account"]
    with pytest.raises(RegistryRefusal) as unknown:
        push_image(f"{host(stack)}/{prefix}/course:v1", docker_config(ecr), stack.clock.now())
    assert str(unknown.value) == (f"name unknown: The repository with name '{prefix}/course' does not exist in "
                                  f"the registry with id '{account}'")

    ecr.create_repository_creation_template(prefix=prefix, appliedFor=["REPLICATION", "PULL_THROUGH_CACHE"])
    with pytest.raises(RegistryRefusal) as not_on_push:
        push_image(f"{host(stack)}/{prefix}/course:v1", docker_config(ecr), stack.clock.now())
    assert not_on_push.value.code == "name unknown"

    on_push(ecr, f"{prefix}x")
    try:
        with pytest.raises(RegistryRefusal) as not_under:  # "prod" applies to repositories beginning with "prod/"
            push_image(f"{host(stack)}/{prefix}xy/course:v1", docker_config(ecr), stack.clock.now())
    finally:
        ecr.delete_repository_creation_template(prefix=f"{prefix}x")
    assert not_under.value.code == "name unknown"
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=[f"{prefix}/course"])


def test_the_longest_matching_prefix_applies_and_root_applies_to_the_rest(stack, ecr, prefix):
    on_push(ecr, prefix, resourceTags=[{"Key": "level", "Value": "hub"}])
    on_push(ecr, f"{prefix}/team", resourceTags=[{"Key": "level", "Value": "team"}])
    try:
        on_push(ecr, "ROOT", resourceTags=[{"Key": "level", "Value": "root"}])
        for name, level in [(f"{prefix}/team/course", "team"), (f"{prefix}/other", "hub"),
                            (f"{prefix}-elsewhere/course", "root")]:
            pushed = push_image(f"{host(stack)}/{name}:v1", docker_config(ecr), stack.clock.now())
            arn = ecr.describe_repositories(repositoryNames=[pushed.repository_name])["repositories"][0][
                "repositoryArn"]
            assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "level", "Value": level}], name
    finally:
        ecr.delete_repository_creation_template(prefix=f"{prefix}/team")
        ecr.delete_repository_creation_template(prefix="ROOT")


# -- a push from inside a cluster ----------------------------------------------------------------------------------
def cluster_with_api(stack):
    """A cluster (tests/local/cluster/test_cluster_api.py) whose local Kubernetes API has started."""
    name, _ = active_cluster(stack)
    eventually(lambda: name in stack.clusters.clusters)
    return name


def build_secret(config: dict) -> dict:
    """The Secret the BinderHub chart renders (templates/secret.yaml, key config.json of buildDockerConfig)."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "binder-build-docker-config", "namespace": "binderhub"},
            "data": {"config.json": base64.b64encode(json.dumps(config).encode()).decode()}}


def test_a_build_in_a_cluster_pushes_with_the_secret_while_its_token_is_current(stack, ecr, prefix):
    cluster = cluster_with_api(stack)
    store = stack.clusters.server(cluster).store
    store.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "binderhub"}})
    on_push(ecr, prefix, resourceTags=[{"Key": "hub", "Value": cluster}])
    store.put_object(build_secret(docker_config(ecr)))

    pushed = stack.push_from_cluster(cluster, f"{host(stack)}/{prefix}/binder-repo:abc")
    assert pushed.created_repository
    assert ecr.list_images(repositoryName=pushed.repository_name)["imageIds"][0]["imageTag"] == "abc"

    stack.clock.advance(12 * 3600 + 1)
    with pytest.raises(RegistryRefusal, match="authorization token has expired"):
        stack.push_from_cluster(cluster, f"{host(stack)}/{prefix}/binder-repo:def")
    store.put_object(build_secret(docker_config(ecr)))  # what a refresh writes
    assert stack.push_from_cluster(cluster, f"{host(stack)}/{prefix}/binder-repo:def").image_tag == "def"
