"""What a caller sends, checked: ids, bodies, headers, page tokens, hub requests and changes, each naming the field."""
import pytest
from pydantic import ValidationError

from chalicelib import api_input
from chalicelib.api_errors import ApiError
from chalicelib.hub_request import HubChanges, HubRequest


def test_page_tokens_round_trip_and_junk_names_the_field():
    token = api_input.encode_token({"hub_id": "hub-cs101"})
    assert api_input.decode_token(token) == {"hub_id": "hub-cs101"}
    for junk in ("", "%%%", "bm90IGpzb24", api_input.encode_token({"hub_id": "NOT VALID"})):
        with pytest.raises(ApiError) as refused:
            api_input.decode_token(junk)
        assert (refused.value.status, refused.value.field) == (400, "next")


def test_validation_errors_name_the_nested_field_first():
    with pytest.raises(ValidationError) as error:
        HubChanges.model_validate({"nodes": {"max_size": 0}, "colour": "blue"})
    refused = api_input.invalid(error.value)
    assert refused.status == 400 and refused.field in ("nodes.max_size", "colour")
    assert {p["field"] for p in refused.body()["errors"]} == {"nodes.max_size", "colour"}
    assert "nodes.max_size" in refused.message


def test_changes_apply_over_the_stored_request_and_keep_what_was_not_sent():
    stored = {"course_id": "x", "term_end": "2027-01-01", "reminder_days": 7, "scaling": {"down_at": "20:00"},
              "nodes": {"instance_type": "m5.large", "min_size": 1, "desired_size": 1, "max_size": 3}}
    changed = HubChanges.model_validate({"nodes": {"max_size": 5}, "scaling": None}).apply(stored)
    assert changed["nodes"] == {"instance_type": "m5.large", "min_size": 1, "desired_size": 1, "max_size": 5}
    assert changed["scaling"] is None and changed["term_end"] == "2027-01-01" and changed["reminder_days"] == 7


def test_identifiers_and_bodies_are_checked_before_anything_runs():
    assert api_input.hub_id("hub-cs101") == "hub-cs101"
    for bad in ("", "Hub", "hub_cs", "x" * 49, "../etc", None):
        with pytest.raises(ApiError) as refused:
            api_input.hub_id(bad)
        assert refused.value.field == "hub_id"
    for raw in (None, b"", b"{", b"[1]", b"\xff\xfe"):
        with pytest.raises(ApiError) as refused:
            api_input.json_object(raw)
        assert refused.value.field == "body"
    assert api_input.json_object(b'{"a": 1}') == {"a": 1}
    for key in ("", "with space", "é", "x" * 129):
        with pytest.raises(ApiError):
            api_input.idempotency_key(key)


def test_a_request_parses_with_stage_limits_into_a_400_naming_the_field(monkeypatch):
    from chalicelib.settings import Settings

    settings = Settings(stage="dev", hub_table_name="t", slack_webhook_secret_arn="arn:aws:secretsmanager:"
                        "us-east-1:123456789012:secret:s", allowed_instance_types=("m5.large",))
    with pytest.raises(ApiError) as refused:
        api_input.parse_request({"course_id": "x", "nodes": {"instance_type": "m5.xlarge"}}, settings)
    assert refused.value.field in {e["field"] for e in refused.value.extra["errors"]}
    assert "nodes.instance_type" in {e["field"] for e in refused.value.extra["errors"]}
    assert HubRequest  # the model the API validates with


def test_an_extended_support_version_is_a_400_naming_the_field_with_the_price_unless_the_stage_allows_it():
    from chalicelib.settings import Settings

    settings = Settings(stage="dev", hub_table_name="t", slack_webhook_secret_arn="arn:aws:secretsmanager:"
                        "us-east-1:123456789012:secret:s")
    body = {"course_id": "x", "kubernetes_version": "1.34"}  # extended support from 2026-12-02 to 2027-12-02
    with pytest.raises(ApiError) as refused:
        api_input.parse_request(body, settings)
    problems = {e["field"]: e["message"] for e in refused.value.extra["errors"]}
    assert "$0.60 per hour per cluster instead of $0.10" in problems["kubernetes_version"]
    allowing = Settings(**{**settings.__dict__, "allow_extended_support": True})
    with pytest.raises(ApiError) as other_problems:
        api_input.parse_request(body, allowing)  # the body lacks other fields; the version is not among them
    assert "kubernetes_version" not in {e["field"] for e in other_problems.value.extra["errors"]}


def test_a_page_query_reads_limit_status_and_next_and_names_what_is_wrong():
    assert api_input.page_query({}) == (api_input.PAGE_SIZE, None, None)
    token = api_input.encode_token({"hub_id": "hub-cs101"})
    assert api_input.page_query({"limit": "5", "status": "READY", "next": token}) == (5, "READY", {"hub_id": "hub-cs101"})
    for query, field in (({"colour": "red"}, "colour"), ({"": "x"}, "query"), ({"status": "ready"}, "status"),
                         ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "²"}, "limit"),
                         ({"limit": "9" * 5000}, "limit"), ({"next": "junk"}, "next")):
        with pytest.raises(ApiError) as refused:
            api_input.page_query(query)
        assert (refused.value.status, refused.value.code, refused.value.field) == (400, "InvalidQuery", field)


def test_a_change_must_change_something_and_may_resize_but_not_remove_the_nodes():
    assert api_input.changes({"reminder_days": 3}).reminder_days == 3
    for body, field in (({}, "body"), ({"nodes": None}, "nodes"), ({"colour": "blue"}, "colour")):
        with pytest.raises(ApiError) as refused:
            api_input.changes(body)
        assert (refused.value.status, refused.value.field) == (400, field)


@pytest.mark.parametrize("body, field", [
    ({"reminder_days": True}, "reminder_days"),
    ({"reminder_days": "7"}, "reminder_days"),
    ({"reminder_days": 7.0}, "reminder_days"),
    ({"term_end": "2027-01-15T00:00:00"}, "term_end"),
    ({"nodes": {"desired_size": "1"}}, "nodes.desired_size"),
    ({"nodes": {"min_size": 1.0}}, "nodes.min_size"),
    ({"nodes": {"max_size": 3, "instance_type": "m5.large"}}, "nodes.instance_type"),  # the type stays
    ({"scaling": {"weekdays_only": "yes"}}, "scaling.weekdays_only"),
    ({"scaling": {"down_at": "20:00", "up_at": "07:00", "weekend": True}}, "scaling.weekend"),
    ({"domain": "other.example.edu"}, "domain"),  # a hub's names do not change
    ({"reminder_dayz": 3}, "reminder_dayz"),
])
def test_a_change_of_another_type_or_to_an_unknown_field_is_a_400_naming_it(body, field):
    with pytest.raises(ApiError) as refused:
        api_input.changes(body)
    assert (refused.value.status, refused.value.code, refused.value.field) == (400, "InvalidRequest", field)


def test_a_hub_request_of_another_type_is_a_400_naming_the_field_not_a_converted_value():
    from datetime import date, timedelta

    from chalicelib.settings import Settings
    from tests.chalicelib.test_hub_request import ARN, GOOD

    settings = Settings(stage="dev", hub_table_name="t", slack_webhook_secret_arn=ARN)
    good = {**GOOD, "term_end": (date.today() + timedelta(days=60)).isoformat()}  # the API judges by today's date
    api_input.parse_request(good, settings)
    for field, value, where in (("term_end", "2027-01-15T00:00:00", "term_end"),
                                ("timezone", "Europe/Kyiv\n", "timezone"),
                                ("scaling", {"weekdays_only": "yes"}, "scaling.weekdays_only"),
                                ("nodes", {"min_size": 1.0}, "nodes.min_size"),
                                ("nodes", {"desired_size": "1"}, "nodes.desired_size"),
                                ("acme_stagin", True, "acme_stagin")):
        with pytest.raises(ApiError) as refused:
            api_input.parse_request({**good, field: value}, settings)
        assert (refused.value.status, refused.value.field) == (400, where), field
        assert [e["field"] for e in refused.value.extra["errors"]] == [where]


def test_a_hub_id_is_exactly_the_pattern_without_a_trailing_newline():
    with pytest.raises(ApiError):
        api_input.hub_id("hub-cs101\n")


def test_a_lone_surrogate_anywhere_in_the_body_is_refused_naming_the_body():
    """JSON may escape one (\\ud800), but it is no Unicode character: pydantic, DynamoDB and logs cannot take it."""
    with pytest.raises(ApiError) as refused:
        api_input.json_object(b'{"course_id": "cs101", "kubernetes_version": "\\ud800"}')
    assert (refused.value.status, refused.value.field) == (400, "body") and "lone surrogate" in str(refused.value)
    assert api_input.json_object('{"course_id": "caf\\u00e9 \\ud83d\\ude00"}'.encode()) == {"course_id": "café 😀"}


@pytest.mark.parametrize("launch_test, field", [
    ({"repository": "https://github.com/o/r"}, "launch_test.repository"),
    ({"repository": "gh/o/r/HEAD?x=1"}, "launch_test.repository"),
    ({"code": ""}, "launch_test.code"),
    ({"expected_output": "x" * 201}, "launch_test.expected_output"),
    ({"enabled": "sometimes"}, "launch_test.enabled"),
    ({"repo": "gh/o/r/HEAD"}, "launch_test.repo"),
])
def test_a_bad_launch_test_is_a_400_naming_its_field(launch_test, field):
    from chalicelib.settings import Settings

    settings = Settings(stage="dev", hub_table_name="t", slack_webhook_secret_arn="arn:aws:secretsmanager:"
                        "us-east-1:123456789012:secret:s")
    with pytest.raises(ApiError) as refused:
        api_input.parse_request({"course_id": "x", "launch_test": launch_test}, settings)
    assert refused.value.status == 400 and field in {e["field"] for e in refused.value.extra["errors"]}


def test_a_patch_changes_the_launch_tests_fields_it_names_and_keeps_the_others():
    changed = api_input.changes({"launch_test": {"repository": "gh/course/notebooks/main"}}).apply(
        {"nodes": {"instance_type": "m5.large"}, "launch_test": {"enabled": False, "code": "print(1)"}})
    assert changed["launch_test"] == {"enabled": False, "code": "print(1)", "repository": "gh/course/notebooks/main"}
