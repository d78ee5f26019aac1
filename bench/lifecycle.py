"""A whole term of the sample hub on the local stack: nightly scaling for 15 weeks, then the term-end teardown.

Reports, from one run: schedule firings, Lambda invocations and state transitions per week of nightly
scaling (the schedules invoke the scaling function directly, so no workflow runs), and the state
transitions, Lambda invocations and simulated duration of the teardown the term end starts.
"""
from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib import hub_records  # noqa: E402
from coursehub.demo import sample_request  # noqa: E402
from coursehub_local.stack import LocalStack, StackConfig  # noqa: E402

TIME_SCALE = 600.0
WEEKS = 15
STEP_HOURS = 6  # the clock jumps this far, then the scaled time lets each scaling settle


def main() -> int:
    with LocalStack(StackConfig(time_scale=TIME_SCALE)) as stack:
        sfn, table = stack.client("stepfunctions"), stack.seeded.environment["HUB_TABLE_NAME"]
        request = {**sample_request(), "term_end": (date.today() + timedelta(weeks=WEEKS)).isoformat(),
                   "scaling": {"down_at": "20:00", "up_at": "07:00", "weekdays_only": True}}
        arn = sfn.start_execution(stateMachineArn=stack.seeded.state_machines["provision"],
                                  input=json.dumps({"hub_id": "hub-term", "request": request}))["executionArn"]
        if _wait(sfn, arn) != "SUCCEEDED":
            print("provisioning failed")
            return 1
        invocations, firings = len(stack.dispatcher.invocations), len(stack.schedules.fired)
        executions = _executions(sfn, stack)
        term_start, real_start = stack.clock.time(), time.perf_counter()
        teardown = None
        while teardown is None and stack.clock.time() - term_start < (WEEKS + 1) * 7 * 86400:
            stack.clock.advance(STEP_HOURS * 3600)
            time.sleep(0.25)
            teardown = next((e for e in _executions(sfn, stack) - executions if "-teardown:" in e), None)
        weeks = (stack.clock.time() - term_start) / (7 * 86400)
        term_calls = Counter(stack.dispatcher.invocations[invocations:])
        term_firings = stack.schedules.fired[firings:]
        started = _executions(sfn, stack) - executions - {teardown}
        print(f"term: {weeks:.1f} weeks simulated in {time.perf_counter() - real_start:.1f} s")
        print(f"  schedule firings:      {len(term_firings)} ({len(term_firings) / weeks:.1f} per week)")
        scale_calls = term_calls["coursehub-dev-scale_hub"]
        print(f"  scaling invocations:   {scale_calls} ({scale_calls / weeks:.1f} per week)")
        print(f"  workflows started:     {len(started)}; state transitions for scaling: 0 per week")
        if teardown is None:
            print("the term-end teardown did not start")
            return 1
        simulated_start, wall_start = stack.clock.time(), time.perf_counter()
        status = _wait(sfn, teardown)
        events = sfn.get_execution_history(executionArn=teardown, maxResults=1000)["events"]
        calls = Counter(_invoked(e) for e in events if _invoked(e))
        record = hub_records.get(stack.client("dynamodb"), table, "hub-term")
        print(f"teardown: {status}; hub {record['status']}; audit: {record.get('audit', {}).get('summary')}")
        print(f"  state transitions:     {sum(e['type'].endswith('StateEntered') for e in events)}")
        by_function = ", ".join(f"{name.split('-')[-1]} {count}" for name, count in calls.most_common())
        print(f"  Lambda invocations:    {sum(calls.values())} ({by_function})")
        print(f"  simulated time:        {(stack.clock.time() - simulated_start) / 60:.1f} min after it was seen "
              f"running; wall {time.perf_counter() - wall_start:.1f} s")
        return 0 if status == "SUCCEEDED" and record["status"] == "RETIRED" else 1


def _wait(sfn, arn: str) -> str:
    while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
        time.sleep(0.05)
    return status


def _invoked(event: dict) -> str | None:
    """The function a history event invokes (a Lambda Task, or a lambda:invoke integration), if any."""
    if event["type"] == "LambdaFunctionScheduled":
        return event["lambdaFunctionScheduledEventDetails"]["resource"].rsplit(":", 1)[-1]
    details = event.get("taskScheduledEventDetails") or {}
    if event["type"] == "TaskScheduled" and details.get("resourceType") == "lambda":
        return json.loads(details["parameters"])["FunctionName"].rsplit(":", 1)[-1]
    return None


def _executions(sfn, stack) -> set[str]:
    return {e["executionArn"] for arn in stack.seeded.state_machines.values()
            for e in sfn.list_executions(stateMachineArn=arn)["executions"]}


if __name__ == "__main__":
    sys.exit(main())
