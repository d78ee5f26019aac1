"""Hub requests: defaults, limits, and a clear reason for every rejection."""
from datetime import date

import pytest
from pydantic import ValidationError

from chalicelib import kubernetes_versions
from chalicelib.hub_request import HubRequest, Limits

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:coursehub/dev/x-AbCdEf"
TODAY = date(2026, 11, 27)
LIMITS = Limits(today=TODAY)
GOOD = {"course_id": "cs101", "domain": "courses.example.edu", "term_end": "2027-03-01",
        "image_prefix": "coursehub/cs101-", "acme_email": "ops@example.edu",
        "dockerhub_secret_arn": ARN, "github_token_secret_arn": ARN, "slack_webhook_secret_arn": ARN}


def errors(data, limits=LIMITS):
    with pytest.raises(ValidationError) as caught:
        HubRequest.parse(data, limits)
    return {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors()}


def test_a_minimal_request_gets_the_defaults():
    request = HubRequest.parse(GOOD, LIMITS)
    assert request.binder == "binder.courses.example.edu"
    assert request.hub == "hub.binder.courses.example.edu"
    assert request.image_builder == "dind" and request.culling.timeout == 3600


def test_stage_defaults_fill_what_the_request_leaves_out():
    data = {k: v for k, v in GOOD.items() if not k.endswith("_secret_arn")}
    defaults = {k: v for k, v in GOOD.items() if k.endswith("_secret_arn")}
    assert HubRequest.parse(data, LIMITS, defaults).slack_webhook_secret_arn == ARN


@pytest.mark.parametrize("field, value, where", [
    ("course_id", "CS 101", "course_id"),
    ("course_id", "-cs", "course_id"),
    ("domain", "not a domain", "domain"),
    ("binder_host", "binder.elsewhere.org", ""),
    ("term_end", "2026-11-27", "term_end"),
    ("term_end", "2028-01-01", "term_end"),
    ("term_end", "soon", "term_end"),
    ("timezone", "Mars/Olympus", "timezone"),
    ("kubernetes_version", "1.20", "kubernetes_version"),
    ("image_builder", "host", "image_builder"),
    ("image_prefix", "coursehub", "image_prefix"),
    ("cors_origin", "http://insecure.example.edu", "cors_origin"),
    ("acme_email", "nobody", "acme_email"),
    ("dockerhub_secret_arn", "hunter2", "dockerhub_secret_arn"),
    ("nodes", {"instance_type": "p4d.24xlarge"}, "nodes.instance_type"),
    ("nodes", {"max_size": 50}, "nodes.max_size"),
    ("nodes", {"min_size": 3, "desired_size": 1, "max_size": 4}, "nodes"),
    ("culling", {"timeout": 5}, "culling.timeout"),
    ("chart_versions", {"binderhub": "latest"}, "chart_versions.binderhub"),
    ("surprise", 1, "surprise"),
])
def test_each_bad_field_is_named(field, value, where):
    found = errors({**GOOD, field: value})
    assert where in found
    if not where:  # a rule across fields names the field in its message
        assert field in found[where]


def test_limits_come_from_the_stage():
    narrow = Limits(instance_types=("t3.large",), max_nodes=2, today=TODAY)
    found = errors({**GOOD, "nodes": {"instance_type": "m5.xlarge", "max_size": 3}}, narrow)
    assert set(found) == {"nodes.instance_type", "nodes.max_size"}


def test_a_stored_request_is_not_judged_again_by_the_day_or_the_stage_limits():
    accepted = HubRequest.parse({**GOOD, "nodes": {"instance_type": "m5.2xlarge", "max_size": 8}}, LIMITS)
    data = accepted.model_dump(mode="json")
    narrower = Limits(instance_types=("m5.large",), max_nodes=4, today=date(2027, 3, 1))  # the last day of term
    assert errors(data, narrower).keys() == {"term_end", "nodes.instance_type", "nodes.max_size"}
    assert HubRequest.stored(data) == accepted


def test_a_stored_request_still_has_to_have_its_shape():
    with pytest.raises(ValidationError, match="course_id"):
        HubRequest.stored({**GOOD, "course_id": "CS 101"})


def test_the_default_kubernetes_version_is_the_newest_in_standard_support():
    assert HubRequest.parse(GOOD, LIMITS).kubernetes_version == "1.36"
    assert kubernetes_versions.offered(date(2026, 12, 6), extended_support=False) == ["1.35", "1.36"]


@pytest.mark.parametrize("version", ["1.32", "1.33", "1.34"])
def test_a_version_in_extended_support_is_refused_with_its_price(version):
    found = errors({**GOOD, "kubernetes_version": version}, Limits(today=date(2026, 12, 6)))
    assert set(found) == {"kubernetes_version"}
    assert "$0.60 per hour per cluster instead of $0.10" in found["kubernetes_version"]
    assert "choose one of 1.35, 1.36" in found["kubernetes_version"]


def test_1_34_was_standard_until_the_2nd_of_december_2026():
    assert HubRequest.parse({**GOOD, "kubernetes_version": "1.34"}, LIMITS).kubernetes_version == "1.34"
    found = errors({**GOOD, "kubernetes_version": "1.34"}, Limits(today=date(2026, 12, 2)))
    assert "left EKS standard support on 2026-12-02" in found["kubernetes_version"]


def test_a_stage_that_allows_extended_support_accepts_those_versions_and_no_others():
    allowing = Limits(today=date(2026, 12, 6), allow_extended_support=True)
    assert HubRequest.parse({**GOOD, "kubernetes_version": "1.32"}, allowing).kubernetes_version == "1.32"
    for gone_or_not_yet in ("1.31", "1.37"):  # 1.31's extended support ended 2026-11-26; 1.37 is not on EKS
        found = errors({**GOOD, "kubernetes_version": gone_or_not_yet}, allowing)
        assert found["kubernetes_version"].endswith("choose one of 1.32, 1.33, 1.34, 1.35, 1.36")


def test_a_stored_request_on_a_version_now_in_extended_support_stays_valid():
    accepted = HubRequest.parse({**GOOD, "kubernetes_version": "1.34"}, LIMITS)  # on 2026-11-27, in standard support
    assert HubRequest.stored(accepted.model_dump(mode="json")).kubernetes_version == "1.34"


@pytest.mark.parametrize("field, value, where", [
    ("term_end", "2027-01-15T00:00:00", "term_end"),  # a date-time is not a date
    ("term_end", "2027-1-15", "term_end"),
    ("term_end", "20270115", "term_end"),
    ("term_end", "2027-02-30", "term_end"),
    ("term_end", 1800000000, "term_end"),
    ("timezone", "Europe/Kyiv\n", "timezone"),  # time zone names exact: not trimmed
    ("timezone", " Europe/Kyiv", "timezone"),
    ("timezone", "europe/kyiv", "timezone"),
    ("domain", "courses.example.edu\n", "domain"),
    ("course_id", "cs101\n", "course_id"),
    ("acme_staging", "true", "acme_staging"),
    ("acme_staging", 1, "acme_staging"),
    ("reminder_days", "7", "reminder_days"),
    ("reminder_days", True, "reminder_days"),
    ("scaling", {"weekdays_only": "yes"}, "scaling.weekdays_only"),
    ("nodes", {"min_size": 1.0}, "nodes.min_size"),
    ("nodes", {"desired_size": "1"}, "nodes.desired_size"),
    ("nodes", {"max_size": True}, "nodes.max_size"),
    ("culling", {"timeout": 3600.0}, "culling.timeout"),
    ("acme_stagin", True, "acme_stagin"),  # a typo of acme_staging must not provision a production certificate
    ("nodes", {"max_sise": 3}, "nodes.max_sise"),  # unknown fields at every level
    ("scaling", {"down_at": "20:00", "weekday_only": False}, "scaling.weekday_only"),
    ("culling", {"max_age": 0, "timout": 600}, "culling.timout"),
    ("chart_versions", {"binderhub_chart": "1.0.0"}, "chart_versions.binderhub_chart"),
])
def test_a_value_of_another_type_or_an_unknown_field_is_refused_naming_it(field, value, where):
    assert where in errors({**GOOD, field: value})


def test_a_date_is_exactly_an_iso_date_and_a_stored_request_still_validates():
    accepted = HubRequest.parse({**GOOD, "term_end": "2027-01-15", "timezone": "Europe/Kyiv"}, LIMITS)
    assert accepted.term_end == date(2027, 1, 15) and accepted.timezone == "Europe/Kyiv"
    stored = accepted.model_dump(mode="json")
    assert stored["term_end"] == "2027-01-15"
    assert HubRequest.stored(stored) == accepted  # as the workflows read it back (numbers as ints: hub_records._plain)


def test_the_public_names_of_a_hub_are_its_domain_and_both_hosts_each_with_the_field_it_comes_from():
    assert HubRequest.parse(GOOD, LIMITS).public_names == {
        "courses.example.edu": "domain", "binder.courses.example.edu": "domain",
        "hub.binder.courses.example.edu": "domain"}
    named = HubRequest.parse({**GOOD, "domain": "Courses.Example.EDU.", "binder_host": "courses.example.edu",
                              "hub_host": "jupyter.courses.example.edu"}, LIMITS)
    assert named.public_names == {"courses.example.edu": "domain", "jupyter.courses.example.edu": "hub_host"}


# -- the image registry ---------------------------------------------------------------------------------------------
ECR = {k: v for k, v in GOOD.items() if k not in ("image_prefix", "dockerhub_secret_arn")}


def test_without_a_dockerhub_prefix_a_hub_uses_the_stages_default_registry_and_ignores_its_dockerhub_account():
    request = HubRequest.parse(ECR, LIMITS, {"registry": "ecr", "dockerhub_secret_arn": ARN})
    assert (request.registry, request.image_prefix, request.dockerhub_secret_arn) == ("ecr", None, None)
    assert (request.images_per_repository, request.archive_images) == (10, False)
    assert HubRequest.parse(ECR, LIMITS).registry == "ecr"  # the model's default where no stage says otherwise


def test_a_dockerhub_prefix_without_a_registry_asks_for_dockerhub_as_before_the_choice():
    assert HubRequest.parse(GOOD, LIMITS, {"registry": "ecr"}).registry == "dockerhub"


@pytest.mark.parametrize("data, field, message", [
    ({**ECR, "registry": "dockerhub", "dockerhub_secret_arn": ARN}, "image_prefix", "required with registry"),
    ({**ECR, "registry": "dockerhub", "image_prefix": "coursehub/cs101-"}, "dockerhub_secret_arn",
     "required with registry"),
    ({**GOOD, "registry": "ecr"}, "image_prefix", "is for registry 'dockerhub'"),
    ({**ECR, "registry": "ecr", "dockerhub_secret_arn": ARN}, "dockerhub_secret_arn", "is for registry 'dockerhub'"),
    ({**ECR, "registry": "quay"}, "registry", "Input should be 'ecr' or 'dockerhub'"),
    ({**ECR, "images_per_repository": 0}, "images_per_repository", "greater than or equal to 1"),
    ({**ECR, "archive_images": "yes"}, "archive_images", "valid boolean"),
])
def test_a_registry_field_that_does_not_fit_is_refused_naming_it(data, field, message):
    assert message in errors(data)[field]


def test_a_registry_the_stage_does_not_allow_is_refused():
    found = errors({**ECR, "registry": "ecr"}, Limits(today=TODAY, registries=("dockerhub",)))
    assert "registry 'ecr' is not allowed here; choose dockerhub" in found["registry"]


def test_a_stored_request_from_before_the_choice_reads_as_dockerhub():
    stored = HubRequest.parse(GOOD, LIMITS).model_dump(mode="json")
    del stored["registry"], stored["images_per_repository"], stored["archive_images"]
    assert HubRequest.stored(stored).registry == "dockerhub"
