"""The README's main command: rehearse on the local stack and say plainly whether it worked."""
from __future__ import annotations

import json
import time

from coursehub_local.stack import LocalStack, StackConfig

SMOKE_INPUT = {"fail_times": 2, "polls_needed": 3, "items": [1, 2, 3, 4]}
RUN_TIMEOUT_SECONDS = 120


def run(stage: str = "dev", time_scale: float = 200.0) -> int:
    """Start the stack, run the smoke workflow, print what happened; 0 only if it all held."""
    started = time.monotonic()
    with LocalStack(StackConfig(stage=stage, time_scale=time_scale)) as stack:
        print(f"local stack up in {time.monotonic() - started:.1f} s (time x{time_scale:g}) at {stack.endpoint}")
        sfn = stack.client("stepfunctions")
        execution = sfn.start_execution(stateMachineArn=stack.seeded.state_machines["smoke"],
                                        name="demo-smoke", input=json.dumps(SMOKE_INPUT))
        status = _wait(sfn, execution["executionArn"])
        print("\nsteps:")
        for event in sfn.get_execution_history(executionArn=execution["executionArn"])["events"]:
            details = event.get("stateEnteredEventDetails")
            if details:
                print(f"  - {details['name']}")
        print("\nSlack transcript:")
        messages = stack.slack.texts()
        for text in messages:
            print(f"  > {text}")
        ok = status == "SUCCEEDED" and len(messages) == 1
        print(f"\nsmoke workflow {status}; {len(messages)} Slack message(s); "
              f"{len(stack.dispatcher.invocations)} Lambda invocations; "
              f"{time.monotonic() - started:.1f} s in all")
        print("demo: OK" if ok else "demo: FAILED")
        return 0 if ok else 1


def _wait(sfn, execution_arn: str) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        if status != "RUNNING":
            return status
        time.sleep(0.2)
    return "TIMED_OUT"
