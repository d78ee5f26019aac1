"""The README's main command: on the local stack, through the REST API, provision the sample course hub (READY once
a test repository was built, its image pushed to the account's ECR, launched and a cell run), check it over HTTPS,
show it as ``coursehub status`` does, retire it, and say what happened.

``faults`` (``coursehub demo --fault eks:CreateNodegroup``) rehearse a failure:
each named AWS operation answers AccessDeniedException to the app's functions,
as it would for a role missing a permission.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from chalicelib import https_check
from coursehub import hub_text, watch
from coursehub.api_client import ApiClient
from coursehub_local.stack import ROOT, LocalStack, StackConfig

SAMPLE = ROOT / "examples" / "cs101.json"
RUN_TIMEOUT_SECONDS = 300
POLL_SECONDS = 0.5  # the stack's clock runs fast; a step takes a fraction of a second


def sample_request(path: Path = SAMPLE) -> dict:
    """The sample request with a term end a few months ahead; the stage provides the secrets' ARNs."""
    request = json.loads(path.read_text())
    request["term_end"] = (date.today() + timedelta(days=100)).isoformat()
    return request


def run(stage: str = "dev", time_scale: float = 600.0, faults: list[tuple[str, str]] = ()) -> int:
    """Start the stack, provision the sample hub through the API, check it over HTTPS, retire it, print the steps,
    the Slack transcript and the audit. Exit code 0 only if all of that held."""
    started = time.monotonic()
    with LocalStack(StackConfig(stage=stage, time_scale=time_scale)) as stack:
        details = stack.details()
        # The handlers run in this process and log every call at INFO; the live view is the story here.
        logging.getLogger("coursehub").setLevel(logging.WARNING)
        # moto logs each Fail state as an ERROR with its parse tree; the hub names the failed step and its cause.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        print(f"local stack up in {time.monotonic() - started:.1f} s (time x{time_scale:g}): "
              f"AWS at {stack.endpoint}, API at {details['api_url']}")
        for service, operation in faults:
            stack.faults.inject(service, operation, times=1000, code="AccessDeniedException", status=400,
                                message=f"not authorized to perform: {service}:{operation} (injected by the demo)")
            print(f"rehearsing a failure: every {service}:{operation} call answers AccessDeniedException")
        api = ApiClient.local(details)
        request = sample_request()
        answer = api.create(request, idempotency_key=str(uuid.uuid4()))
        hub_id = answer.body["hub_id"]
        print(f"\nPOST /hubs -> {answer.status}: provisioning {hub_id} ({request['domain']})")
        provisioned = _follow(api, answer.body)
        checked = _https(provisioned.hub, details["acme_staging_roots"]) if provisioned.ok else None
        volume = _database_volume(stack.client("ec2"), provisioned.hub) if checked else None
        launched = _launched(api, provisioned.hub) if volume else None
        _run_over(stack, provisioned.hub)
        slack_seen = _slack(stack.slack.texts(), 0)
        retired = None
        if checked and volume and launched:
            answer = api.retire(hub_id)
            print(f"\nDELETE /hubs/{hub_id} -> {answer.status}: retiring it")
            retired = _follow(api, answer.body)
            _run_over(stack, retired.hub)  # its last Slack message is posted after the record says RETIRED
            audit = retired.hub.get("audit") or {}
            print(f"\naudit of what is left in AWS: {audit.get('summary', 'none')}")
            print("\n".join(hub_text.audit(audit)))
            slack_seen = _slack(stack.slack.texts(), slack_seen)
        ok = (bool(checked) and bool(volume) and bool(launched) and retired is not None and retired.ok
              and bool((retired.hub.get("audit") or {}).get("clean")))
        print()
        if not ok:
            print(_what_failed(provisioned, checked, retired))
        print(_summary(provisioned, checked, retired) + f"; {slack_seen} Slack messages; "
              f"{len(stack.dispatcher.invocations)} Lambda invocations; {time.monotonic() - started:.1f} s in all")
        print("demo: OK" if ok else "demo: FAILED")
        return 0 if ok else 1


def _follow(api: ApiClient, hub: dict) -> watch.Outcome:
    return watch.follow(lambda: api.get(hub["hub_id"]).body, first=hub, interval=POLL_SECONDS,
                        timeout=RUN_TIMEOUT_SECONDS)


def _https(hub: dict, staging_roots: str) -> dict | None:
    """Check the hub again from here, as a student's browser would (a staging hub against the staging roots)."""
    binder, jupyterhub = (hub["urls"][k].removeprefix("https://") for k in ("binder", "hub"))
    staging = bool((hub.get("request") or {}).get("acme_staging"))
    try:
        result = https_check.verify_hub(binder, jupyterhub, cafile=staging_roots if staging else None)
    except (https_check.HubNotAnswering, https_check.CertificateRejected) as error:
        print(f"\nHTTPS check failed: {error}")
        return None
    root = "staging root" if staging else "production root"
    print(f"\nHTTPS check: {result['binder_url']}/health and {result['hub_url']}/hub/api answer 200 "
          f"with a certificate from the local ACME CA's {root} (JupyterHub {result['jupyterhub_version']})")
    return result


def _database_volume(ec2, hub: dict) -> dict | None:
    """The EBS volume behind the hub's database claim, found by the hub's tag (the EBS CSI driver's extra tags)."""
    from chalicelib.hub_names import HUB_TAG
    volumes = ec2.describe_volumes(Filters=[
        {"Name": f"tag:{HUB_TAG}", "Values": [hub["hub_id"]]},
        {"Name": "tag:kubernetes.io/created-for/pvc/name", "Values": ["hub-db-dir"]}])["Volumes"]
    if not volumes:
        print(f"\nno EBS volume tagged for hub {hub['hub_id']} holds the hub's database claim hub-db-dir")
        return None
    volume = volumes[0]
    cluster = next((t["Value"] for t in volume.get("Tags", []) if t["Key"] == "KubernetesCluster"), "(none)")
    print(f"\nhub database: claim hub-db-dir is on EBS volume {volume['VolumeId']} ({volume['VolumeType']}, "
          f"{volume['Size']} GiB, {volume['AvailabilityZone']}, {volume['State']}), tagged for cluster {cluster}")
    return volume


def _launched(api: ApiClient, hub: dict) -> dict | None:
    """The hub as ``coursehub status`` shows it, with its launch check: a test repository built (its image pushed
    to the hub's registry), launched and a cell run through the hub's public names."""
    view = api.get(hub["hub_id"]).body
    print(f"\n$ coursehub status {hub['hub_id']}")
    print("\n".join(line for line in hub_text.hub(view) if not line.startswith("    ")))
    check = view.get("launch_check") or {}
    return check if check.get("status") == "PASSED" else None


def _run_over(stack: LocalStack, hub: dict, timeout: float = 30.0) -> None:
    """Wait (up to ``timeout`` seconds) until the hub's run has ended: its last Tasks follow the recorded status."""
    sfn, execution = stack.client("stepfunctions"), hub.get("execution_arn")
    deadline = time.monotonic() + timeout
    while execution and time.monotonic() < deadline and \
            sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        time.sleep(0.1)


def _slack(messages: list[str], seen: int) -> int:
    """Print the messages after the first ``seen``; returns how many there are now."""
    print("\nSlack transcript:" if seen == 0 else "\nSlack, continued:")
    for text in messages[seen:]:
        print(f"  > {text}")
    return len(messages)


def _what_failed(provisioned: watch.Outcome, checked: dict | None, retired: watch.Outcome | None) -> str:
    for outcome in (provisioned, retired):
        if outcome is None:
            continue
        if outcome.timed_out:
            return (f"timed out at step {outcome.hub.get('current_step')!r} ({outcome.hub['status']}) "
                    f"after {RUN_TIMEOUT_SECONDS} s")
        if outcome.hub["status"] == "FAILED":
            return watch.failure(outcome.hub)
    if not checked:
        return "failed at the HTTPS check from the demo"
    if retired is None:
        return "failed: no EBS volume holds the hub's database, or the launch check did not pass"
    return f"failed at the audit: {(retired.hub.get('audit') or {}).get('summary', 'no audit on the hub')}"


def _summary(provisioned: watch.Outcome, checked: dict | None, retired: watch.Outcome | None) -> str:
    hub = provisioned.hub
    progress = hub.get("progress") or {}
    parts = [f"{hub['hub_id']}: {hub['status']} after {watch.clock_time(provisioned.seconds)} "
             f"({progress.get('done', 0)} of {progress.get('total', 0)} steps done)"]
    if provisioned.ok:
        parts.append("HTTPS verified" if checked else "HTTPS check FAILED")
    if retired is not None:
        audit = retired.hub.get("audit") or {}
        parts.append(f"then {retired.hub['status']} after {watch.clock_time(retired.seconds)}; "
                     f"audit {'clean' if audit.get('clean') else 'NOT clean'}")
    return ", ".join(parts)
