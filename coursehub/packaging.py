"""Package the app for CloudFormation: ``chalice package`` merged with the state machines and their resources.

The merge template is built from ``statemachine/template.json`` (its
``${Placeholder}`` strings filled here) and every ``statemachine/*.asl.json``;
each state machine gets its definition from ``statemachines.definition`` (the
one the local stack deploys) and its placeholders through
``DefinitionSubstitutions``, built by ``statemachines.substitutions`` exactly as
the local stack builds its values. Every function gets its fixed name, its log
group and the stack's settings; those that run helm/kubectl get the layer, whose
zip is copied next to ``deployment.zip``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from chalice.utils import to_cfn_resource_name

from chalicelib import image_registry
from chalicelib.hub_names import STAGE_TAG
from chalicelib.settings import DEFAULT_INSTANCE_TYPES, Settings
from coursehub import event_rules, statemachines, tools
from coursehub.chalice_config import chalice_stage_config

ROOT = statemachines.ROOT
BUILD_DIR = ROOT / "build"
# Functions that run helm/kubectl: their roles become cluster admins through EKS access entries.
KUBE_FUNCTIONS = ("install_release", "configure_load_balancer", "check_certificates", "check_node_ready",
                  "uninstall_releases", "renew_registry_login")
# Functions that change Route 53 records: the stack denies them every hosted zone but the stage's (HostedZoneIds).
DNS_FUNCTIONS = ("publish_dns", "delete_dns", "audit_hub")
# Functions the hubs' schedules invoke directly (the teardown schedule starts a state machine instead).
SCHEDULED_FUNCTIONS = ("scale_hub", "notify_slack", "renew_registry_login")
API_HANDLER = "APIHandler"  # the logical id of Chalice's one function behind the REST API
LAYER_ZIP = "kubectl-layer.zip"  # next to deployment.zip in the package folder


def app_functions() -> list[str]:
    """Chalice names of the app's ``@app.lambda_function``s."""
    sys.path.insert(0, str(ROOT))
    from app import app

    return [f.name for f in app.pure_lambda_functions]


def function_name(stage: str, function: str) -> str:
    """The fixed Lambda name of a Chalice function: the ARNs the template builds from names rely on it."""
    return f"coursehub-{stage}-{function}"


def merge_template(stage: str, functions: list[str], sources: list[statemachines.StateMachineSource],
                   environment: dict[str, str]) -> dict:
    """The template Chalice merges into its own output."""
    base = json.loads((statemachines.STATEMACHINE_DIR / "template.json").read_text())
    resources = base["Resources"]
    function_refs = {f: {"Fn::GetAtt": [to_cfn_resource_name(f), "Arn"]} for f in functions}
    # Names are fixed, so ARNs are built from them: no dependency between a state machine and what it starts.
    machine_arns = {statemachines.state_machine_placeholder(s.name): _arn("states", "stateMachine:" + s.deployed_name(
        "coursehub", stage)) for s in [*statemachines.sources(), *sources]}
    teardown = machine_arns[statemachines.state_machine_placeholder("teardown")]
    launch_check = machine_arns[statemachines.state_machine_placeholder("launch-check")]
    package_name, version = tools.LAYERS[tools.DEFAULT_LAYER]
    _fill(base, {
        "HubTableName": environment["HUB_TABLE_NAME"],
        "IdempotencyTableName": environment["IDEMPOTENCY_TABLE_NAME"],
        "FunctionArns": list(function_refs.values()),
        "TeardownStateMachineArn": teardown,
        "LaunchCheckStateMachineArn": launch_check,
        "LaunchCheckExecutionArns": _arn("states", "execution:" + statemachines.StateMachineSource(
            "launch-check", statemachines.STATEMACHINE_DIR).deployed_name("coursehub", stage) + ":*"),
        "LifecycleFunctionArns": [_function_arn(stage, f) for f in SCHEDULED_FUNCTIONS],
        "ScheduleGroupName": f"coursehub-{stage}",
        "EksClusterRoleName": f"coursehub-{stage}-eks-cluster",
        "EksNodeRoleName": f"coursehub-{stage}-eks-node",
        "EbsCsiRoleName": f"coursehub-{stage}-ebs-csi",
        "EcrCreationRoleName": f"coursehub-{stage}-ecr-creation",
        "EcrRepositoryArns": _arn("ecr", f"repository/{image_registry.repository_prefix(stage, '*')}"),
        "KubectlLayerName": f"coursehub-{stage}-kubectl-helm",
        "KubectlLayerDescription": f"kubectl and helm at /opt/kubectl/kubectl and /opt/helm/helm "
                                   f"({package_name} {version})",
        "KubectlLayerZip": "./" + LAYER_ZIP,
        "PythonRuntime": f"python{sys.version_info.major}.{sys.version_info.minor}",  # what chalice package sets
        "VpcName": f"coursehub-{stage}",
        "DnsFunctionRoles": [{"Ref": to_cfn_resource_name(f) + "Role"} for f in DNS_FUNCTIONS if f in functions],
        # The stage's configuration is the parameters' default; a deployment may override each.
        "AllowedInstanceTypes": environment.get("ALLOWED_INSTANCE_TYPES", ",".join(DEFAULT_INSTANCE_TYPES)),
        "MaxNodesPerHub": environment.get("MAX_NODES_PER_HUB", str(Settings.max_nodes_per_hub)),
        "TermHorizonDays": environment.get("TERM_HORIZON_DAYS", str(Settings.term_horizon_days)),
        "AllowExtendedSupport": environment.get("ALLOW_EXTENDED_SUPPORT", "false"),
        "Registries": environment.get("REGISTRIES", ",".join(Settings.registries)),
    })
    for logical_id, rule in event_rules.rules(base).items():  # the stack's seed names them the same way
        rule["Name"] = event_rules.deployed_name(logical_id, "coursehub", stage)
    for source in sources:
        resources[source.logical_id] = {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": source.deployed_name("coursehub", stage),
                "RoleArn": {"Fn::GetAtt": ["StateMachineRole", "Arn"]},
                "Definition": statemachines.definition(source),
                "DefinitionSubstitutions": statemachines.substitutions(
                    source.text, function_refs, {"HubTableName": {"Ref": "HubTable"}, **machine_arns}),
            },
        }
    kube_roles = [{"Fn::GetAtt": [to_cfn_resource_name(f) + "Role", "Arn"]} for f in KUBE_FUNCTIONS if f in functions]
    variables = {
        "SLACK_WEBHOOK_SECRET_ARN": {"Ref": "SlackWebhookSecretArn"},
        "HUB_TABLE_NAME": {"Ref": "HubTable"},
        "CLUSTER_ROLE_ARN": {"Fn::GetAtt": ["EksClusterRole", "Arn"]},
        "NODE_ROLE_ARN": {"Fn::GetAtt": ["EksNodeRole", "Arn"]},
        "EBS_CSI_ROLE_ARN": {"Fn::GetAtt": ["EbsCsiDriverRole", "Arn"]},
        "ECR_CREATION_ROLE_ARN": {"Fn::GetAtt": ["EcrCreationRole", "Arn"]},
        "REGISTRIES": {"Ref": "Registries"},
        "SUBNET_IDS": {"Fn::If": ["CreateVpc",
                                  {"Fn::Join": [",", [{"Ref": "PublicSubnetA"}, {"Ref": "PublicSubnetB"}]]},
                                  {"Fn::Join": [",", {"Ref": "SubnetIds"}]}]},
        "KUBE_ROLE_ARNS": {"Fn::Join": [",", kube_roles]},
        "DOCKERHUB_SECRET_ARN": {"Ref": "DockerHubSecretArn"},
        "GITHUB_TOKEN_SECRET_ARN": {"Ref": "GitHubTokenSecretArn"},
        "ALLOWED_INSTANCE_TYPES": {"Ref": "AllowedInstanceTypes"},
        "MAX_NODES_PER_HUB": {"Ref": "MaxNodesPerHub"},
        "TERM_HORIZON_DAYS": {"Ref": "TermHorizonDays"},
        "ALLOW_EXTENDED_SUPPORT": {"Ref": "AllowExtendedSupport"},
        "CHART_REPOSITORY": {"Fn::If": ["HasChartRepository", {"Ref": "ChartRepository"}, {"Ref": "AWS::NoValue"}]},
        "SCHEDULE_GROUP": {"Ref": "ScheduleGroup"},
        "SCHEDULER_ROLE_ARN": {"Fn::GetAtt": ["SchedulerRole", "Arn"]},
        "TEARDOWN_STATE_MACHINE_ARN": teardown,
        "PROVISION_STATE_MACHINE_ARN": machine_arns[statemachines.state_machine_placeholder("provision")],
        "LAUNCH_CHECK_STATE_MACHINE_ARN": machine_arns[statemachines.state_machine_placeholder("launch-check")],
        "IDEMPOTENCY_TABLE_NAME": {"Ref": "IdempotencyTable"},
        "SCALE_FUNCTION_ARN": _function_arn(stage, "scale_hub"),
        "NOTIFY_FUNCTION_ARN": _function_arn(stage, "notify_slack"),
        "REGISTRY_LOGIN_FUNCTION_ARN": _function_arn(stage, "renew_registry_login"),
    }
    for logical_id, function in function_logical_ids(functions).items():
        # Chalice makes each function's role (``<LogicalId>Role``, its policy file); the stage tag on it is what the
        # policies' ``${aws:PrincipalTag/coursehub:stage}`` reads: a function acts only on its own stage's resources.
        resources[to_cfn_resource_name(function) + "Role"] = {"Properties": {"Tags": [{"Key": STAGE_TAG,
                                                                                   "Value": stage}]}}
        name = function_name(stage, function)
        resources[logical_id + "LogGroup"] = {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": f"/aws/lambda/{name}", "RetentionInDays": {"Ref": "LogRetentionDays"}}}
        properties = {"FunctionName": name, "Environment": {"Variables": variables}}
        if function in KUBE_FUNCTIONS:  # they run /opt/helm/helm and /opt/kubectl/kubectl
            properties["Layers"] = [{"Ref": "KubectlLayer"}]
        # The log group first, so that Lambda never creates one of its own without the retention.
        resources[logical_id] = {"DependsOn": [logical_id + "LogGroup"], "Properties": properties}
    return base


def function_logical_ids(functions: list[str]) -> dict[str, str]:
    """Logical id -> Chalice name of every function in the package, the API's handler included."""
    return {**{to_cfn_resource_name(f): f for f in functions}, API_HANDLER: "api_handler"}


def _fill(value, values: dict):
    """Replace, in place, each string that is exactly a ``${Placeholder}`` of the base template."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        match = isinstance(item, str) and statemachines.PLACEHOLDER.fullmatch(item)
        if match:
            if match.group(1) not in values:
                raise statemachines.PlaceholderError(f"template.json: no value for {item}")
            value[key] = values[match.group(1)]
        else:
            _fill(item, values)


def _arn(service: str, resource: str) -> dict:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"}


def _function_arn(stage: str, function: str) -> dict:
    return _arn("lambda", "function:" + function_name(stage, function))


def package(stage: str, out_dir: Path | None = None) -> Path:
    """Run ``chalice package`` with the merge template; returns the folder holding ``sam.json``."""
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
    shutil.copyfile(tools.layer_zip(), package_dir / LAYER_ZIP)
    return package_dir


def lint(package_dir: Path, region: str | None = None) -> None:
    """cfn-lint the packaged template (for ``region``, else cfn-lint's default); raises on any finding."""
    regions = ["--regions", region] if region else []
    subprocess.run([_script("cfn-lint"), *regions, "--", str(package_dir / "sam.json")], check=True)


def _script(name: str) -> str:
    """A console script of the running virtualenv."""
    return str(Path(sys.executable).parent / name)
