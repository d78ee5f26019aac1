"""The README's main command: provision the sample course hub on the local stack, check it, retire it."""
from __future__ import annotations

import json
import time
from datetime import date, timedelta
from pathlib import Path

from chalicelib import hub_records, https_check
from coursehub_local.stack import ROOT, LocalStack, StackConfig

SAMPLE = ROOT / "examples" / "cs101.json"
RUN_TIMEOUT_SECONDS = 300


def sample_request(path: Path = SAMPLE) -> dict:
    """The sample request with a term end a few months ahead; the stage provides the secrets' ARNs."""
    request = json.loads(path.read_text())
    request["term_end"] = (date.today() + timedelta(days=100)).isoformat()
    return request


def run(stage: str = "dev", time_scale: float = 600.0) -> int:
    """Start the stack, provision the sample hub, check it over HTTPS, retire it, print the story and the audit.

    Exit code 0 only if all of that held.
    """
    started = time.monotonic()
    with LocalStack(StackConfig(stage=stage, time_scale=time_scale)) as stack:
        print(f"local stack up in {time.monotonic() - started:.1f} s (time x{time_scale:g}) at {stack.endpoint}")
        request = sample_request()
        hub_id = f"hub-{request['course_id']}"
        sfn, table = stack.client("stepfunctions"), stack.seeded.environment["HUB_TABLE_NAME"]
        print(f"provisioning {hub_id} ({request['domain']}):")
        status = _run(sfn, stack.seeded.state_machines["provision"], f"demo-{hub_id}",
                      {"hub_id": hub_id, "request": request})
        record = hub_records.get(stack.client("dynamodb"), table, hub_id)
        ok = status == "SUCCEEDED" and record["status"] == "READY" and _https(record) is not None
        provisioned = f"provisioning {status}; hub {record['status']}"
        if ok:
            print(f"\nretiring {hub_id}:")
            status = _run(sfn, stack.seeded.state_machines["teardown"], f"demo-retire-{hub_id}",
                          {"hub_id": hub_id, "reason": "the demo is over"})
            record = hub_records.get(stack.client("dynamodb"), table, hub_id)
            audit = record.get("audit") or {}
            ok = status == "SUCCEEDED" and record["status"] == "RETIRED" and bool(audit.get("clean"))
            print(f"\naudit of what is left in AWS: {audit.get('summary', 'none')}")
            for kind, ids in (audit.get("found") or {}).items():
                print(f"  {kind:24} {', '.join(ids) or 'none'}")
        print("\nSlack transcript:")
        messages = stack.slack.texts()
        for text in messages:
            print(f"  > {text}")
        if not ok:
            failure = record.get("error") or {}
            print(f"\nfailed at step {failure.get('step', record.get('current_step'))!r}: {failure.get('cause', status)}")
        print(f"\n{provisioned}; then hub {record['status']}; {len(messages)} Slack messages; "
              f"{len(stack.dispatcher.invocations)} Lambda invocations; {time.monotonic() - started:.1f} s in all")
        print("demo: OK" if ok else "demo: FAILED")
        return 0 if ok else 1


def _run(sfn, state_machine: str, name: str, payload: dict) -> str:
    execution = sfn.start_execution(stateMachineArn=state_machine, name=name, input=json.dumps(payload))
    return _follow(sfn, execution["executionArn"])


def _follow(sfn, execution_arn: str) -> str:
    """Print each state as it is entered, until the run ends."""
    deadline, seen = time.monotonic() + RUN_TIMEOUT_SECONDS, 0
    while time.monotonic() < deadline:
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        for event in events[seen:]:
            details = event.get("stateEnteredEventDetails")
            if details:
                print(f"  - {details['name']}")
        seen = len(events)
        if status != "RUNNING":
            return status
        time.sleep(0.3)
    return "TIMED_OUT"


def _https(record: dict) -> dict | None:
    """Check the hub again from here, as a student's browser would."""
    binder, hub = (record["urls"][k].removeprefix("https://") for k in ("binder", "hub"))
    try:
        result = https_check.verify_hub(binder, hub)
    except (https_check.HubNotAnswering, https_check.CertificateRejected) as error:
        print(f"\nHTTPS check failed: {error}")
        return None
    print(f"\nHTTPS check: {result['binder_url']}/health and {result['hub_url']}/hub/api answer 200 "
          f"with a certificate from the local ACME CA (JupyterHub {result['jupyterhub_version']})")
    return result
