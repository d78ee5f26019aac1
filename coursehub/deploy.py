"""``coursehub deploy``: package and lint the app, then show the stack it would make (``--dry-run``) or deploy it.

A deploy uploads ``deployment.zip`` and the kubectl/helm layer zip to the bucket
under content-addressed keys (an unchanged zip is not sent again, and a changed
one gives CloudFormation a new location to update from), points the template's
``CodeUri``/``ContentUri`` at them, uploads the template too (CloudFormation
takes at most 51,200 bytes inline) and creates or updates the stack
``coursehub-<stage>`` through a change set. A dry run touches no AWS API.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
import sys
import time
from pathlib import Path
from typing import IO, Mapping

from botocore.exceptions import ClientError, WaiterError

from coursehub import deploy_plan, packaging

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]  # named roles; the SAM transform
ARTIFACTS = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")  # a change set's StatusReason


class DeployError(Exception):
    """Why the deploy stopped, for the admin who ran it."""


def stack_name(stage: str) -> str:
    return f"coursehub-{stage}"


def parameter(text: str) -> tuple[str, str]:
    """``Key=Value`` from the command line (the value may be empty)."""
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise ValueError(f"not KEY=VALUE: {text!r}")
    return key, value


def run(stage: str, given: Mapping[str, str], *, dry_run: bool, region: str | None = None,
        bucket: str | None = None, session=None, out: IO[str] | None = None) -> dict:
    """Package and lint, then print the plan or deploy; returns the stack's outputs (none for a dry run)."""
    out = out or sys.stdout
    package_dir = packaging.package(stage)
    packaging.lint(package_dir, region)
    print(f"cfn-lint: {package_dir / 'sam.json'} is clean", file=out)
    template = json.loads((package_dir / "sam.json").read_text())
    check_parameters(template, given)
    if dry_run:
        print(deploy_plan.describe(template, given, stack_name(stage)), file=out)
        return {}
    if not bucket or not region:
        raise DeployError("a deploy needs --region and --bucket (an S3 bucket in that region)")
    import boto3

    session = session or boto3.Session(region_name=region)
    return deploy(session, template, package_dir, stage, bucket, given, out)


def check_parameters(template: dict, given: Mapping[str, str]) -> None:
    """Refuse, before anything is uploaded, a parameter the template does not have or a value it would reject."""
    problems = []
    for key, value in given.items():
        spec = template["Parameters"].get(key)
        if spec is None:
            problems.append(f"no parameter {key} (the template's: {', '.join(template['Parameters'])})")
        elif "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            problems.append(f"{key}: {value!r} does not match {spec['AllowedPattern']}")
        elif "AllowedValues" in spec and value not in map(str, spec["AllowedValues"]):
            problems.append(f"{key}: {value!r} is not one of {', '.join(map(str, spec['AllowedValues']))}")
        elif spec["Type"] == "Number" and not _number_within(value, spec):
            problems.append(f"{key}: {value!r} is not a number in [{spec.get('MinValue')}, {spec.get('MaxValue')}]")
    subnets = [s for s in given.get("SubnetIds", "").split(",") if s]
    if subnets and (len(subnets) < 2 or not all(re.fullmatch(r"subnet-[0-9a-f]+", s) for s in subnets)):
        problems.append(f"SubnetIds: give two or more subnet ids in two AZs (subnet-...), or none: {subnets}")
    if problems:
        raise DeployError("; ".join(problems))


def _number_within(value: str, spec: dict) -> bool:
    try:
        number = float(value)
    except ValueError:
        return False
    return spec.get("MinValue", number) <= number <= spec.get("MaxValue", number)


def deploy(session, template: dict, package_dir: Path, stage: str, bucket: str, given: Mapping[str, str],
           out: IO[str]) -> dict:
    """Upload the artifacts and the template, then create or update the stack; returns its outputs."""
    s3, cfn = session.client("s3"), session.client("cloudformation")
    name = stack_name(stage)
    existing = _stack(cfn, name)
    status = existing["StackStatus"] if existing else None
    if status == "ROLLBACK_COMPLETE":
        raise DeployError(f"{name} failed to create and was rolled back; delete it "
                          f"(aws cloudformation delete-stack --stack-name {name}) and deploy again")
    if status and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        raise DeployError(f"{name} is busy ({status}); deploy again when it is done")
    kind = "UPDATE" if status and status != "REVIEW_IN_PROGRESS" else "CREATE"
    previous = {p["ParameterKey"] for p in existing.get("Parameters", [])} if kind == "UPDATE" else set()
    missing = [k for k, spec in template["Parameters"].items()
               if "Default" not in spec and k not in given and k not in previous]
    if missing:
        raise DeployError("no value for " + ", ".join(f"--parameter {k}=..." for k in missing))
    check_bucket_region(s3, bucket, session.region_name)
    uploaded = upload_artifacts(s3, bucket, stage, package_dir, template, out)
    template_url = upload_template(s3, bucket, stage, uploaded)
    parameters = [{"ParameterKey": k, "ParameterValue": given[k]} if k in given else
                  {"ParameterKey": k, "UsePreviousValue": True}
                  for k in template["Parameters"] if k in given or k in previous]
    change_set = "coursehub-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    cfn.create_change_set(StackName=name, ChangeSetName=change_set, ChangeSetType=kind, TemplateURL=template_url,
                          Parameters=parameters, Capabilities=CAPABILITIES)
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            StackName=name, ChangeSetName=change_set, WaiterConfig={"Delay": 5, "MaxAttempts": 120})
    except WaiterError as error:
        reason = (error.last_response or {}).get("StatusReason", str(error))
        if any(text in reason for text in NO_CHANGES):
            cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
            print(f"{name}: no changes to deploy", file=out)
            return outputs(cfn, name, out)
        raise DeployError(f"change set {change_set} failed: {reason}") from None
    print(summary(cfn, name, change_set, kind), file=out)
    cfn.execute_change_set(StackName=name, ChangeSetName=change_set)
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    try:
        cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 10, "MaxAttempts": 360})
    except WaiterError:
        raise DeployError(f"{name} did not deploy: {'; '.join(failures(cfn, name))}") from None
    return outputs(cfn, name, out)


def check_bucket_region(s3, bucket: str, region: str) -> None:
    """Lambda reads code only from a bucket in the function's own region."""
    location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
    if location != region:
        raise DeployError(f"bucket {bucket} is in {location}, the stack goes to {region}: "
                          "Lambda needs its code in a bucket of the same region")


def upload_artifacts(s3, bucket: str, stage: str, package_dir: Path, template: dict, out: IO[str]) -> dict:
    """Upload every local zip the template points at; returns a copy of the template pointing at S3 instead."""
    rewritten = copy.deepcopy(template)
    locations: dict[str, str] = {}
    for resource in rewritten["Resources"].values():
        key = ARTIFACTS.get(resource["Type"])
        uri = resource.get("Properties", {}).get(key)
        if key is None or not isinstance(uri, str) or uri.startswith("s3://"):
            continue
        if uri not in locations:
            locations[uri] = upload(s3, bucket, stage, package_dir / uri, out)
        resource["Properties"][key] = locations[uri]
    return rewritten


def upload(s3, bucket: str, stage: str, path: Path, out: IO[str]) -> str:
    """Put one file under a key named for its content (once); returns its ``s3://`` URI."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    key = f"coursehub/{stage}/{digest}/{path.name}"
    try:
        s3.head_object(Bucket=bucket, Key=key)
        print(f"s3://{bucket}/{key}: already there", file=out)
    except ClientError:
        print(f"uploading {path.name} ({path.stat().st_size / 1e6:.1f} MB) to s3://{bucket}/{key}", file=out)
        s3.upload_file(str(path), bucket, key)
    return f"s3://{bucket}/{key}"


def upload_template(s3, bucket: str, stage: str, template: dict) -> str:
    """Upload the template; returns the HTTPS URL CloudFormation reads it from."""
    body = json.dumps(template, separators=(",", ":")).encode()
    key = f"coursehub/{stage}/{hashlib.sha256(body).hexdigest()}/template.json"
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return f"https://{bucket}.s3.{s3.meta.region_name}.amazonaws.com/{key}"


def summary(cfn, name: str, change_set: str, kind: str) -> str:
    """What the change set adds, modifies and removes (modified and removed resources by name)."""
    changes, token = [], None
    while True:
        more = {"NextToken": token} if token else {}
        page = cfn.describe_change_set(StackName=name, ChangeSetName=change_set, **more)
        changes += [c["ResourceChange"] for c in page.get("Changes", [])]
        token = page.get("NextToken")
        if not token:
            break
    counts = {action: sum(c["Action"] == action for c in changes) for action in ("Add", "Modify", "Remove")}
    lines = [f"{name}: change set {change_set} ({kind}): {counts['Add']} to add, {counts['Modify']} to modify, "
             f"{counts['Remove']} to remove"]
    lines += [f"  {c['Action']} {c['ResourceType']} {c['LogicalResourceId']}"
              + (" (replaced)" if c.get("Replacement") == "True" else "")
              for c in changes if c["Action"] != "Add"]
    return "\n".join(lines)


def failures(cfn, name: str, limit: int = 10) -> list[str]:
    """The latest failed resources' reasons, from the stack's events."""
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', e['ResourceStatus'])}"
            for e in events if e["ResourceStatus"].endswith("_FAILED")][:limit] or ["see the stack's events"]


def outputs(cfn, name: str, out: IO[str]) -> dict:
    """The stack's outputs; prints the API's URL."""
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    found = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    print(f"{name}: {stack['StackStatus']}; API at {found.get('EndpointURL')}", file=out)
    return found


def _stack(cfn, name: str) -> dict | None:
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
