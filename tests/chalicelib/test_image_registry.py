"""The hub's ECR: its creation template, the builds' login and its renewal, and what a teardown deletes or keeps."""
import base64
import json

from chalicelib import audit, image_registry
from tests.chalicelib.fakes import FakeEcr, FakeRunner

PREFIX = "coursehub-dev/cs101"
TAGS = {"coursehub:hub": "hub-cs101", "coursehub:stage": "dev", "coursehub:course": "cs101"}
ROLE = "arn:aws:iam::123456789012:role/coursehub-dev-ecr-creation"


def test_the_template_creates_repositories_on_push_tagged_and_keeping_the_newest_images():
    ecr = FakeEcr()
    assert image_registry.prepare(ecr, PREFIX, TAGS, 7, ROLE)["template"] == "created"
    template = ecr.templates[PREFIX]
    assert template["appliedFor"] == ["CREATE_ON_PUSH"] and template["customRoleArn"] == ROLE
    assert template["resourceTags"] == [{"Key": k, "Value": v} for k, v in TAGS.items()]
    rule = json.loads(template["lifecyclePolicy"])["rules"][0]
    assert rule["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 7}
    assert rule["action"] == {"type": "expire"}


def test_preparing_again_brings_the_template_up_to_date():
    ecr = FakeEcr()
    image_registry.prepare(ecr, PREFIX, TAGS, 7, ROLE)
    assert image_registry.prepare(ecr, PREFIX, TAGS, 20, ROLE)["template"] == "updated"
    assert json.loads(ecr.templates[PREFIX]["lifecyclePolicy"])["rules"][0]["selection"]["countNumber"] == 20


def test_the_login_is_the_registrys_with_user_aws_and_its_expiry():
    login = image_registry.login(FakeEcr())
    assert (login.url, login.username, login.password) == (
        "https://123456789012.dkr.ecr.us-east-1.amazonaws.com", "AWS", "ecr-login-1")
    assert login.host == "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert login.expires_at == "2026-12-01T12:00:00+00:00"
    assert image_registry.ecr_image_prefix(login.host, "dev", "cs101") == f"{login.host}/coursehub-dev/cs101/"


def test_a_renewal_writes_the_builds_docker_config_and_restarts_binderhub(tmp_path):
    runner, login = FakeRunner(str(tmp_path)), image_registry.login(FakeEcr())
    result = image_registry.renew(runner, login, "binderhub", "2026-12-01T06:00:00+00:00")
    (secret,) = runner.applied
    assert (secret["kind"], secret["metadata"]) == ("Secret", {"name": "binder-build-docker-config",
                                                               "namespace": "binderhub"})
    config = json.loads(base64.b64decode(secret["data"]["config.json"]))
    assert base64.b64decode(config["auths"][login.url]["auth"]).decode() == "AWS:ecr-login-1"
    (patch,) = [c for c in runner.commands if c[:2] == ("kubectl", "patch")]
    assert patch[2:4] == ("deployment", "binder") and "kubectl.kubernetes.io/restartedAt" in patch[-1]
    assert "ecr-login-1" not in json.dumps(result)


def test_a_teardown_deletes_the_template_first_then_the_hubs_repositories_only():
    ecr = FakeEcr()
    image_registry.prepare(ecr, PREFIX, TAGS, 7, ROLE)
    ecr.repositories = [f"{PREFIX}/binder-a", f"{PREFIX}/binder-b", "coursehub-dev/cs1010/binder-a", "other"]
    result = image_registry.remove(ecr, PREFIX, keep_images=False)
    assert result == {"prefix": PREFIX, "template": "deleted", "kept": [],
                      "deleted": [f"{PREFIX}/binder-a", f"{PREFIX}/binder-b"]}
    assert ecr.calls[1][0] == "delete_repository_creation_template"
    assert ecr.repositories == ["coursehub-dev/cs1010/binder-a", "other"]
    assert left_in_ecr(ecr, keep_images=False) == {"ecr_templates": [], "ecr_repositories": []}
    again = image_registry.remove(ecr, PREFIX, keep_images=False)  # a retried step: all gone already
    assert (again["template"], again["deleted"]) == ("already gone", [])


def test_archived_images_stay_and_are_named_but_the_template_goes():
    ecr = FakeEcr()
    image_registry.prepare(ecr, PREFIX, TAGS, 7, ROLE)
    ecr.repositories = [f"{PREFIX}/binder-a"]
    result = image_registry.remove(ecr, PREFIX, keep_images=True)
    assert (result["kept"], result["deleted"], ecr.repositories) == ([f"{PREFIX}/binder-a"], [], [f"{PREFIX}/binder-a"])
    assert left_in_ecr(ecr, keep_images=True) == {"ecr_templates": [], "ecr_repositories": []}
    assert left_in_ecr(ecr, keep_images=False) == {"ecr_templates": [], "ecr_repositories": [f"{PREFIX}/binder-a"]}


def left_in_ecr(ecr, keep_images):
    """What the teardown's audit would find of the hub in ECR."""
    return audit.find({"ecr": ecr}.get, cluster="coursehub-dev-cs101", registry_prefix=PREFIX,
                      keep_images=keep_images, kinds=("ecr_templates", "ecr_repositories"))
