"""What the API answers: the counted steps against the workflows, the timeline, the view of a hub."""
import json
from pathlib import Path

import pytest

from chalicelib import api_views

ROOT = Path(__file__).resolve().parents[2]


def recorded_steps(workflow):
    """Task states that record progress on the hub (they pass ``step.$``), Parallel branches included."""
    found = []

    def walk(states):
        for name, state in states.items():
            parameters = state.get("Parameters") or {}
            if "step.$" in parameters or "step.$" in (parameters.get("Input") or {}):  # a run waited for: its Input
                found.append(name)
            for branch in state.get("Branches", []):
                walk(branch["States"])

    walk(json.loads((ROOT / "statemachine" / f"{workflow}.asl.json").read_text())["States"])
    return found


def test_every_workflow_has_its_steps_listed():
    # The launch check records itself on the hub's launch_check, not as a workflow's steps.
    assert set(api_views.STEPS) == set(api_views.OPTIONAL_STEPS) == {
        p.name.removesuffix(".asl.json") for p in (ROOT / "statemachine").glob("*.asl.json")} - {"launch-check"}


@pytest.mark.parametrize("workflow", sorted(api_views.STEPS))
def test_the_counted_steps_are_the_workflows_own_in_the_workflows_order(workflow):
    recorded = [s for s in recorded_steps(workflow) if s not in api_views.OPTIONAL_STEPS[workflow]]
    assert list(api_views.STEPS[workflow]) == recorded
    assert set(api_views.OPTIONAL_STEPS[workflow]) <= set(recorded_steps(workflow))


def test_the_timeline_orders_by_start_then_by_the_workflow_and_gives_durations():
    steps = {"Verify the hub over HTTPS": {"started_at": "2026-11-27T10:00:05+00:00", "outcome": "RUNNING"},
             "Publish DNS": {"started_at": "2026-11-27T10:00:05+00:00", "ended_at": "2026-11-27T10:00:05+00:00",
                             "outcome": "SUCCEEDED"},
             "Create the cluster": {"started_at": "2026-11-27T10:00:00+00:00",
                                    "ended_at": "2026-11-27T10:00:03+00:00", "outcome": "SUCCEEDED",
                                    "detail": "created"}}
    timeline = api_views.timeline(steps, api_views.STEPS["provision"])
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
    view = api_views.view(record)
    assert view["progress"] == {"done": 1, "total": len(api_views.STEPS["provision"])}
    assert view["course_id"] == "x"
    assert view["console_url"] == ("https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1"
                                   f"#/v2/executions/details/{arn}")


def test_a_teardown_view_counts_the_teardown_steps_and_a_hub_without_a_run_links_nothing():
    record = {"hub_id": "hub-x", "status": "RETIRING", "workflow": "teardown",
              "steps": {"Uninstall the releases": {"started_at": "2026-11-27T10:00:00+00:00",
                                                   "ended_at": "2026-11-27T10:00:01+00:00", "outcome": "SUCCEEDED"},
                        "Create the cluster": {"started_at": "2026-11-20T10:00:00+00:00",
                                               "ended_at": "2026-11-20T10:00:01+00:00", "outcome": "SUCCEEDED"}}}
    view = api_views.view(record)
    assert view["progress"] == {"done": 1, "total": len(api_views.STEPS["teardown"])}  # not the provisioning's
    assert view["console_url"] is None and view["execution_arn"] is None
