"""The README's main command: provision the sample course hub on the local stack and say plainly whether it worked."""
from __future__ import annotations

import json
import time
from datetime import date, timedelta
from pathlib import Path

from chalicelib import hub_records, https_check
from coursehub_local.stack import ROOT, LocalStack, StackConfig

SAMPLE = ROOT / "examples" / "cs101.json"
RUN_TIMEOUT_SECONDS = 300


def sample_request(stack: LocalStack, path: Path = SAMPLE) -> dict:
    """The sample request with the stack's secret ARNs and a term end a few months ahead."""
    request = json.loads(path.read_text())
    request["term_end"] = (date.today() + timedelta(days=100)).isoformat()
    secrets = stack.seeded.secrets
    request.update(dockerhub_secret_arn=secrets["dockerhub"], github_token_secret_arn=secrets["github"],
                   slack_webhook_secret_arn=secrets["slack"])
    return request


def run(stage: str = "dev", time_scale: float = 600.0) -> int:
    """Start the stack, provision the sample hub, check it over HTTPS, print the story; 0 only if all held."""
    started = time.monotonic()
    with LocalStack(StackConfig(stage=stage, time_scale=time_scale)) as stack:
        print(f"local stack up in {time.monotonic() - started:.1f} s (time x{time_scale:g}) at {stack.endpoint}")
        request = sample_request(stack)
        hub_id = f"hub-{request['course_id']}"
        sfn = stack.client("stepfunctions")
        execution = sfn.start_execution(stateMachineArn=stack.seeded.state_machines["provision"],
                                        name=f"demo-{hub_id}", input=json.dumps({"hub_id": hub_id, "request": request}))
        print(f"provisioning {hub_id} ({request['domain']}):")
        status = _follow(sfn, execution["executionArn"])
        table = stack.seeded.environment["HUB_TABLE_NAME"]
        record = hub_records.get(stack.client("dynamodb"), table, hub_id)
        checked = _https(record) if status == "SUCCEEDED" else None
        print("\nSlack transcript:")
        messages = stack.slack.texts()
        for text in messages:
            print(f"  > {text}")
        ok = status == "SUCCEEDED" and record["status"] == "READY" and checked is not None
        if not ok:
            failure = record.get("error") or {}
            print(f"\nfailed at step {failure.get('step', record.get('current_step'))!r}: {failure.get('cause', status)}")
        print(f"\nprovisioning {status}; hub {record['status']}; {len(messages)} Slack messages; "
              f"{len(stack.dispatcher.invocations)} Lambda invocations; {time.monotonic() - started:.1f} s in all")
        print("demo: OK" if ok else "demo: FAILED")
        return 0 if ok else 1


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
