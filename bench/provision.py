"""One provisioning of the sample hub on the local stack: state transitions, Lambda invocations, and wall time
against the sum of the waits the state machine slept (Wait states and Retry intervals, scaled to real
seconds): the ratio is the orchestration's own overhead on top of waiting for AWS.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coursehub.demo import sample_request  # noqa: E402
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
    return 0 if status == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
