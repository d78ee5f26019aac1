"""Package the app for CloudFormation: ``chalice package`` merged with the state machines and their resources.

The merge template is built from ``statemachine/template.json`` and every
``statemachine/*.asl.json``; each state machine gets its definition as is and
its placeholders through ``DefinitionSubstitutions``, built by
``statemachines.substitutions`` exactly as the local stack builds its values.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from chalice.utils import to_cfn_resource_name

from coursehub import event_rules, statemachines

ROOT = statemachines.ROOT
BUILD_DIR = ROOT / "build"
# Functions that run helm/kubectl: their roles become cluster admins through EKS access entries.
KUBE_FUNCTIONS = ("install_release", "configure_load_balancer", "check_certificates", "uninstall_releases")
# Functions the hubs' schedules invoke directly (the teardown schedule starts a state machine instead).
SCHEDULED_FUNCTIONS = ("scale_hub", "notify_slack")
API_HANDLER = "APIHandler"  # the logical id of Chalice's one function behind the REST API


def app_functions() -> list[str]:
    """Chalice names of the app's ``@app.lambda_function``s."""
    sys.path.insert(0, str(ROOT))
    from app import app

    return [f.name for f in app.pure_lambda_functions]


def merge_template(stage: str, functions: list[str], sources: list[statemachines.StateMachineSource],
                   environment: dict[str, str]) -> dict:
    """The template Chalice merges into its own output."""
    base = json.loads((statemachines.STATEMACHINE_DIR / "template.json").read_text())
    resources = base["Resources"]
    resources["HubTable"]["Properties"]["TableName"] = environment["HUB_TABLE_NAME"]
    resources["IdempotencyTable"]["Properties"]["TableName"] = environment["IDEMPOTENCY_TABLE_NAME"]
    statement = resources["StateMachineRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]
    statement["Resource"] = [{"Fn::GetAtt": [to_cfn_resource_name(f), "Arn"]} for f in functions]
    function_refs = {f: {"Fn::GetAtt": [to_cfn_resource_name(f), "Arn"]} for f in functions}
    # Names are fixed, so ARNs are built from them: no dependency between a state machine and what it starts.
    machine_arns = {statemachines.state_machine_placeholder(s.name): _arn("states", "stateMachine:" + s.deployed_name(
        "coursehub", stage)) for s in [*statemachines.sources(), *sources]}
    teardown = machine_arns[statemachines.state_machine_placeholder("teardown")]
    resources["ScheduleGroup"]["Properties"]["Name"] = f"coursehub-{stage}"
    for logical_id, rule in event_rules.rules(base).items():  # the stack's seed names them the same way
        rule["Name"] = event_rules.deployed_name(logical_id, "coursehub", stage)
    scheduler_statements = resources["SchedulerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    scheduler_statements[0]["Resource"] = teardown
    scheduler_statements[1]["Resource"] = [_function_arn(stage, f) for f in SCHEDULED_FUNCTIONS]
    resources["StateMachineRole"]["Properties"]["Policies"][1]["PolicyDocument"]["Statement"][0]["Resource"] = teardown
    for source in sources:
        text = source.text
        resources[source.logical_id] = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": source.deployed_name("coursehub", stage),
                "RoleArn": {"Fn::GetAtt": ["StateMachineRole", "Arn"]},
                "Definition": json.loads(text),
                "DefinitionSubstitutions": statemachines.substitutions(
                    text, function_refs, {"HubTableName": {"Ref": "HubTable"}, **machine_arns}),
            },
        }
    kube_roles = [{"Fn::GetAtt": [to_cfn_resource_name(f) + "Role", "Arn"]} for f in KUBE_FUNCTIONS if f in functions]
    for logical_id in [*map(to_cfn_resource_name, functions), API_HANDLER]:
        resources[logical_id] = {"Properties": {"Environment": {"Variables": {
            "SLACK_WEBHOOK_SECRET_ARN": {"Ref": "SlackWebhookSecretArn"},
            "HUB_TABLE_NAME": {"Ref": "HubTable"},
            "CLUSTER_ROLE_ARN": {"Ref": "ClusterRoleArn"},
            "NODE_ROLE_ARN": {"Ref": "NodeRoleArn"},
            "SUBNET_IDS": {"Fn::Join": [",", {"Ref": "SubnetIds"}]},
            "KUBE_ROLE_ARNS": {"Fn::Join": [",", kube_roles]},
            "DOCKERHUB_SECRET_ARN": {"Ref": "DockerHubSecretArn"},
            "GITHUB_TOKEN_SECRET_ARN": {"Ref": "GitHubTokenSecretArn"},
            "SCHEDULE_GROUP": {"Ref": "ScheduleGroup"},
            "SCHEDULER_ROLE_ARN": {"Fn::GetAtt": ["SchedulerRole", "Arn"]},
            "TEARDOWN_STATE_MACHINE_ARN": teardown,
            "PROVISION_STATE_MACHINE_ARN": machine_arns[statemachines.state_machine_placeholder("provision")],
            "IDEMPOTENCY_TABLE_NAME": {"Ref": "IdempotencyTable"},
            "SCALE_FUNCTION_ARN": _function_arn(stage, "scale_hub"),
            "NOTIFY_FUNCTION_ARN": _function_arn(stage, "notify_slack"),
        }}}}
    return base


def _arn(service: str, resource: str) -> dict:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"}


def _function_arn(stage: str, function: str) -> dict:
    return _arn("lambda", f"function:coursehub-{stage}-{function}")


def package(stage: str, out_dir: Path | None = None) -> Path:
    """Run ``chalice package`` with the merge template; returns the folder holding ``sam.json``."""
    from coursehub_local.seed import chalice_stage_config

    out_dir = out_dir or BUILD_DIR / stage
    out_dir.mkdir(parents=True, exist_ok=True)
    environment = chalice_stage_config(ROOT, stage)["environment"]
    template = merge_template(stage, app_functions(), statemachines.sources(), environment)
    merge_file = out_dir / "merge-template.json"
    merge_file.write_text(json.dumps(template, indent=2) + "\n")
    package_dir = out_dir / "package"
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    subprocess.run(
        [_script("chalice"), "package", "--stage", stage, "--pkg-format", "cloudformation",
         "--merge-template", str(merge_file), str(package_dir)],
        cwd=ROOT, env=env, check=True)
    return package_dir


def lint(package_dir: Path) -> None:
    """cfn-lint the packaged template; raises CalledProcessError on any finding."""
    subprocess.run([_script("cfn-lint"), str(package_dir / "sam.json")], check=True)


def _script(name: str) -> str:
    """A console script of the running virtualenv."""
    return str(Path(sys.executable).parent / name)
