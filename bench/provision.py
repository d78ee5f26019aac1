"""One provisioning of the sample hub on the local stack: state transitions, Lambda invocations, and wall time
against the sum of the waits the state machine slept (Wait states and Retry intervals, scaled to real
seconds): the ratio is the orchestration's own overhead on top of waiting for AWS. Also an estimate of the
Lambda GB-seconds one provisioning bills: each in-process invocation's wall time on the stack times the
function's memory in .chalice/config.json (docs/deploy.md prices it; real AWS calls and cold starts differ).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coursehub.demo import sample_request  # noqa: E402
from coursehub.chalice_config import chalice_stage_config  # noqa: E402
from coursehub_local.stack import LocalStack, StackConfig  # noqa: E402

TIME_SCALE = 600.0


def main() -> int:
    stack = LocalStack(StackConfig(time_scale=TIME_SCALE))
    slept = []
    sleep = stack.clock.sleep

    def counted_sleep(seconds, interrupt=None):
        slept.append(seconds)
        return sleep(seconds, interrupt)
    stack.clock.sleep = counted_sleep  # before start(): the engine's waits are bound to it then
    with stack:
        sfn = stack.client("stepfunctions")
        request = sample_request()
        invocations_before = len(stack.dispatcher.invocations)
        timed = timed_invocations(stack.dispatcher)
        simulated_start, real_start = stack.clock.time(), time.perf_counter()
        slept.clear()
        arn = sfn.start_execution(stateMachineArn=stack.seeded.state_machines["provision"],
                                  input=json.dumps({"hub_id": "hub-bench", "request": request}))["executionArn"]
        while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
            time.sleep(0.05)
        wall = time.perf_counter() - real_start
        simulated = stack.clock.time() - simulated_start
        waits = sum(slept)
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        transitions = sum(e["type"].endswith("StateEntered") for e in events)
        invocations = len(stack.dispatcher.invocations) - invocations_before
        waits_real = waits / TIME_SCALE
        print(f"provisioning: {status}")
        print(f"state transitions:         {transitions}")
        print(f"Lambda invocations:        {invocations}")
        print(f"simulated time:            {simulated / 60:7.1f} min (x{TIME_SCALE:g})")
        print(f"waits slept (Wait, Retry): {waits / 60:7.1f} min simulated = {waits_real:.2f} s real")
        print(f"wall time:                 {wall:7.2f} s  ratio {wall / waits_real:5.2f} x the scaled waits")
        seconds = sum(s for _, s in timed)
        print(f"Lambda GB-seconds:         {gb_seconds(timed):7.2f} (estimate: {seconds:.2f} s of in-process "
              "invocations x each function's configured memory)")
        checks = stack.seeded.state_machines["launch-check"]
        (first,) = sfn.list_executions(stateMachineArn=checks)["executions"]
        launch_report("launch check while provisioning (a fresh build)", sfn, first["executionArn"],
                      invocations_before, stack.dispatcher, LAUNCH_FUNCTIONS[:-1])  # provisioning posts to Slack
        if status == "SUCCEEDED":  # the same check on demand: the image is built already
            from chalicelib import hub_records
            record = hub_records.get(stack.client("dynamodb"), stack.seeded.environment["HUB_TABLE_NAME"], "hub-bench")
            before = len(stack.dispatcher.invocations)
            again = sfn.start_execution(stateMachineArn=checks, input=json.dumps(
                {"hub_id": "hub-bench", "request": record["request"], "purpose": "on demand",
                 "wait_for_hub": False}))["executionArn"]
            while sfn.describe_execution(executionArn=again)["status"] == "RUNNING":
                time.sleep(0.05)
            launch_report("launch check on demand (the image built before)", sfn, again, before, stack.dispatcher,
                          LAUNCH_FUNCTIONS)
    return 0 if status == "SUCCEEDED" else 1


LAUNCH_FUNCTIONS = ("start_test_build", "check_test_server", "start_test_kernel", "run_test_cell",
                    "check_test_output", "stop_test_server", "record_launch_check", "notify_slack")


def launch_report(title: str, sfn, execution: str, invocations_from: int, dispatcher, functions) -> None:
    """The launch check's own transitions and the invocations of its ``functions`` (from ``invocations_from`` on)."""
    described = sfn.describe_execution(executionArn=execution)
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    transitions = sum(e["type"].endswith("StateEntered") for e in events)
    names = [n.rsplit("-", 1)[-1] for n in dispatcher.invocations[invocations_from:]]
    calls = {f: names.count(f) for f in functions if names.count(f)}
    output = json.loads(described.get("output") or "{}").get("check", {}).get("launch_check", {})
    print(f"{title}: {described['status']}")
    print(f"  state transitions:       {transitions}")
    print(f"  Lambda invocations:      {sum(calls.values())} ({', '.join(f'{k} {v}' for k, v in calls.items())})")
    print(f"  time to first output:    {output.get('time_to_first_output_seconds')} s (real seconds on the stack)")


def timed_invocations(dispatcher) -> list[tuple[str, float]]:
    """From now on, (deployed name, wall seconds) of every invocation the stack runs in-process."""
    timed, invoke = [], dispatcher.invoke

    def timed_invoke(name, *args, **kwargs):
        start = time.perf_counter()
        try:
            return invoke(name, *args, **kwargs)
        finally:
            timed.append((name, time.perf_counter() - start))
    dispatcher.invoke = timed_invoke
    return timed


def gb_seconds(timed: list[tuple[str, float]], stage: str = "dev") -> float:
    """Wall seconds x configured memory (GB), as Lambda bills duration."""
    config = chalice_stage_config(ROOT, stage)
    prefix = f"{config['app_name']}-{stage}-"

    def memory_mb(name: str) -> int:
        return config["functions"].get(name.removeprefix(prefix), {}).get("lambda_memory_size",
                                                                          config["lambda_memory_size"])
    return sum(seconds * memory_mb(name) / 1024 for name, seconds in timed)


if __name__ == "__main__":
    sys.exit(main())
