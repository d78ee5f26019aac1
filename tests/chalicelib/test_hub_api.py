"""The API's pure parts: step lists against the workflows, the timeline, page tokens, error shapes, changes."""
import json
from pathlib import Path

import pytest
from chalice import Response
from pydantic import ValidationError

from chalicelib import hub_api
from chalicelib.hub_request import HubChanges, HubRequest

ROOT = Path(__file__).resolve().parents[2]


def recorded_steps(workflow):
    """Task states that record progress on the hub (they pass ``step.$``), Parallel branches included."""
    found = []

    def walk(states):
        for name, state in states.items():
            if "step.$" in (state.get("Parameters") or {}):
                found.append(name)
            for branch in state.get("Branches", []):
                walk(branch["States"])

    walk(json.loads((ROOT / "statemachine" / f"{workflow}.asl.json").read_text())["States"])
    return found


@pytest.mark.parametrize("workflow", sorted(hub_api.STEPS))
def test_the_counted_steps_are_the_workflows_own(workflow):
    optional = {"Check DNS resolves"}  # only without a hosted zone
    assert set(hub_api.STEPS[workflow]) == set(recorded_steps(workflow)) - optional


def test_the_timeline_orders_by_start_then_by_the_workflow_and_gives_durations():
    steps = {"Verify the hub over HTTPS": {"started_at": "2026-11-27T10:00:05+00:00", "outcome": "RUNNING"},
             "Publish DNS": {"started_at": "2026-11-27T10:00:05+00:00", "ended_at": "2026-11-27T10:00:05+00:00",
                             "outcome": "SUCCEEDED"},
             "Create the cluster": {"started_at": "2026-11-27T10:00:00+00:00",
                                    "ended_at": "2026-11-27T10:00:03+00:00", "outcome": "SUCCEEDED",
                                    "detail": "created"}}
    timeline = hub_api.timeline(steps, hub_api.STEPS["provision"])
    assert [s["name"] for s in timeline] == ["Create the cluster", "Publish DNS", "Verify the hub over HTTPS"]
    assert [s["duration_s"] for s in timeline] == [3.0, 0.0, None]
    assert timeline[0]["detail"] == "created"


def test_a_view_counts_progress_and_links_the_console():
    arn = "arn:aws:states:eu-west-1:123456789012:execution:coursehub-dev-provision:hub-x-1"
    record = {"hub_id": "hub-x", "status": "PROVISIONING", "workflow": "provision", "execution_arn": arn,
              "request": {"course_id": "x"},
              "steps": {"Create the cluster": {"started_at": "2026-11-27T10:00:00+00:00", "outcome": "SUCCEEDED",
                                               "ended_at": "2026-11-27T10:00:01+00:00"},
                        "Check the cluster is active": {"started_at": "2026-11-27T10:00:02+00:00",
                                                        "outcome": "RUNNING"}}}
    view = hub_api.view(record)
    assert view["progress"] == {"done": 1, "total": len(hub_api.STEPS["provision"])}
    assert view["course_id"] == "x"
    assert view["console_url"] == ("https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1"
                                   f"#/v2/executions/details/{arn}")


def test_page_tokens_round_trip_and_junk_names_the_field():
    token = hub_api._encode_token({"hub_id": "hub-cs101"})
    assert hub_api._decode_token(token) == {"hub_id": "hub-cs101"}
    for junk in ("", "%%%", "bm90IGpzb24", hub_api._encode_token({"hub_id": "NOT VALID"})):
        with pytest.raises(hub_api.ApiError) as refused:
            hub_api._decode_token(junk)
        assert (refused.value.status, refused.value.field) == (400, "next")


def test_validation_errors_name_the_nested_field_first():
    with pytest.raises(ValidationError) as error:
        HubChanges.model_validate({"nodes": {"max_size": 0}, "colour": "blue"})
    refused = hub_api.invalid(error.value)
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
    assert hub_api.hub_id("hub-cs101") == "hub-cs101"
    for bad in ("", "Hub", "hub_cs", "x" * 49, "../etc", None):
        with pytest.raises(hub_api.ApiError) as refused:
            hub_api.hub_id(bad)
        assert refused.value.field == "hub_id"
    for raw in (None, b"", b"{", b"[1]", b"\xff\xfe"):
        with pytest.raises(hub_api.ApiError) as refused:
            hub_api.json_object(raw)
        assert refused.value.field == "body"
    assert hub_api.json_object(b'{"a": 1}') == {"a": 1}
    for key in ("", "with space", "é", "x" * 129):
        with pytest.raises(hub_api.ApiError):
            hub_api.idempotency_key(key)


def test_chalices_own_errors_take_the_apis_shape():
    unsupported = hub_api.reshape(Response({"Code": "UnsupportedMediaType", "Message": "no"}, status_code=415))
    assert unsupported.body == {"code": "UnsupportedMediaType", "message": "no"}
    internal = hub_api.reshape(Response({"Code": "InternalServerError", "Message": "trace"}, status_code=500))
    assert internal.body == {"code": "InternalError", "message": "an internal error occurred"}
    fine = Response({"Code": "kept"}, status_code=200)
    assert hub_api.reshape(fine).body == {"Code": "kept"}


def test_a_request_parses_with_stage_limits_into_a_400_naming_the_field(monkeypatch):
    from chalicelib.settings import Settings

    settings = Settings(stage="dev", hub_table_name="t", slack_webhook_secret_arn="arn:aws:secretsmanager:"
                        "us-east-1:123456789012:secret:s", allowed_instance_types=("m5.large",))
    with pytest.raises(hub_api.ApiError) as refused:
        hub_api.parse_request({"course_id": "x", "nodes": {"instance_type": "m5.xlarge"}}, settings)
    assert refused.value.field in {e["field"] for e in refused.value.extra["errors"]}
    assert "nodes.instance_type" in {e["field"] for e in refused.value.extra["errors"]}
    assert HubRequest  # the model the API validates with


def test_an_extended_support_version_is_a_400_naming_the_field_with_the_price_unless_the_stage_allows_it():
    from chalicelib.settings import Settings

    settings = Settings(stage="dev", hub_table_name="t", slack_webhook_secret_arn="arn:aws:secretsmanager:"
                        "us-east-1:123456789012:secret:s")
    body = {"course_id": "x", "kubernetes_version": "1.34"}  # extended support from 2026-12-02 to 2027-12-02
    with pytest.raises(hub_api.ApiError) as refused:
        hub_api.parse_request(body, settings)
    problems = {e["field"]: e["message"] for e in refused.value.extra["errors"]}
    assert "$0.60 per hour per cluster instead of $0.10" in problems["kubernetes_version"]
    allowing = Settings(**{**settings.__dict__, "allow_extended_support": True})
    with pytest.raises(hub_api.ApiError) as other_problems:
        hub_api.parse_request(body, allowing)  # the body lacks other fields; the version is not among them
    assert "kubernetes_version" not in {e["field"] for e in other_problems.value.extra["errors"]}
