"""What a deployment provides, created on the local stack: roles, table, secrets, zone, VPC, functions, state machines."""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any, Callable

from chalice.utils import to_cfn_resource_name

from coursehub import event_rules, statemachines
from coursehub.tools import layer_dir
from coursehub_local.dispatch import DeployedFunction

SAMPLE_DOMAIN = "courses.example.edu"
EBS_CSI_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
ASSUME = {
    "lambda": "lambda.amazonaws.com",
    "states": "states.amazonaws.com",
    "scheduler": "scheduler.amazonaws.com",
    "eks-cluster": "eks.amazonaws.com",
    "eks-node": "ec2.amazonaws.com",
    "ecr-creation": "ecr.amazonaws.com",  # the repository creation templates' custom role (template.json)
}


@dataclass
class Seeded:
    """ARNs and names of what was created, for settings, tests and ``.coursehub/local.json``."""

    roles: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    state_machines: dict[str, str] = field(default_factory=dict)
    hosted_zone_id: str = ""
    vpc_id: str = ""
    subnet_ids: list[str] = field(default_factory=list)  # in two zones EKS supports
    unsupported_subnet_id: str = ""  # in use1-az3, where EKS makes no cluster
    schedule_group: str = ""
    environment: dict[str, str] = field(default_factory=dict)


def seed(client: Callable[[str], Any], *, app_name: str, stage: str, chalice_config: dict,
         functions: list[DeployedFunction], state_machine_files: list[statemachines.StateMachineSource],
         slack_webhook_url: str, chart_repository_url: str) -> Seeded:
    """Create everything; returns the environment the functions get."""
    out = Seeded()
    prefix = f"{app_name}-{stage}"
    iam = client("iam")
    for purpose, service in ASSUME.items():
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName=f"{prefix}-{purpose}", AssumeRolePolicyDocument=json.dumps(policy))
        out.roles[purpose] = role["Role"]["Arn"]
    # The EBS CSI driver's role, as the template makes it: EKS Pod Identity assumes it for the driver's controller
    # (EKS user guide, pod-id-role: trust pods.eks.amazonaws.com with sts:AssumeRole and sts:TagSession).
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
    role = iam.create_role(RoleName=f"{prefix}-ebs-csi", AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName=f"{prefix}-ebs-csi", PolicyArn=EBS_CSI_POLICY)
    out.roles["ebs-csi"] = role["Role"]["Arn"]

    table = chalice_config["environment"]["HUB_TABLE_NAME"]
    client("dynamodb").create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "hub_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "hub_id", "KeyType": "HASH"}])

    client("dynamodb").create_table(  # the API's Idempotency-Key records (Powertools' default key and TTL names)
        TableName=chalice_config["environment"]["IDEMPOTENCY_TABLE_NAME"], BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])

    sm = client("secretsmanager")
    sample_secrets = {
        "slack": ("slack-webhook", slack_webhook_url),
        "dockerhub": ("dockerhub", json.dumps({"username": "coursehub-demo", "password": "local-dockerhub-password"})),
        "github": ("github-token", "ghp_localStackGithubToken000000000000000"),
    }
    for key, (name, value) in sample_secrets.items():
        out.secrets[key] = sm.create_secret(Name=f"coursehub/{stage}/{name}", SecretString=value)["ARN"]

    zone = client("route53").create_hosted_zone(Name=SAMPLE_DOMAIN, CallerReference=f"{prefix}-zone")
    out.hosted_zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]

    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    out.vpc_id = vpc
    for index, zone_name in enumerate(("a", "b")):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{index}.0/24",
                                   AvailabilityZone=f"{client('ec2').meta.region_name}{zone_name}")
        out.subnet_ids.append(subnet["Subnet"]["SubnetId"])
    if ec2.meta.region_name == "us-east-1":
        # A deployment given its VPC's subnets (the SubnetIds parameter) may include one in a zone EKS does not
        # support, as an admin listing every subnet would: the functions get one.
        out.unsupported_subnet_id = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.9.0/24",
                                                      AvailabilityZoneId="use1-az3")["Subnet"]["SubnetId"]

    out.schedule_group = prefix
    region = ec2.meta.region_name
    client("scheduler").create_schedule_group(Name=prefix)

    out.environment = {
        **chalice_config["environment"],
        "SLACK_WEBHOOK_SECRET_ARN": out.secrets["slack"],
        "DOCKERHUB_SECRET_ARN": out.secrets["dockerhub"],
        "GITHUB_TOKEN_SECRET_ARN": out.secrets["github"],
        # The only settings that differ from AWS: the stand-in charts' repository and the layer's local binaries.
        "CHART_REPOSITORY": chart_repository_url,
        "TOOLS_DIR": str(layer_dir()),
        # What the deployment provides.
        "CLUSTER_ROLE_ARN": out.roles["eks-cluster"],
        "NODE_ROLE_ARN": out.roles["eks-node"],
        "EBS_CSI_ROLE_ARN": out.roles["ebs-csi"],
        "ECR_CREATION_ROLE_ARN": out.roles["ecr-creation"],
        "KUBE_ROLE_ARNS": out.roles["lambda"],
        "SUBNET_IDS": ",".join(filter(None, [out.subnet_ids[0], out.unsupported_subnet_id, *out.subnet_ids[1:]])),
        "SCHEDULE_GROUP": out.schedule_group,
        "SCHEDULER_ROLE_ARN": out.roles["scheduler"],
        "TEARDOWN_STATE_MACHINE_ARN": _arn(region, "states", f"stateMachine:{prefix}-teardown", out),
        "PROVISION_STATE_MACHINE_ARN": _arn(region, "states", f"stateMachine:{prefix}-provision", out),
        "LAUNCH_CHECK_STATE_MACHINE_ARN": _arn(region, "states", f"stateMachine:{prefix}-launch-check", out),
        "SCALE_FUNCTION_ARN": _arn(region, "lambda", f"function:{prefix}-scale_hub", out),
        "NOTIFY_FUNCTION_ARN": _arn(region, "lambda", f"function:{prefix}-notify_slack", out),
        "REGISTRY_LOGIN_FUNCTION_ARN": _arn(region, "lambda", f"function:{prefix}-renew_registry_login", out),
    }
    _deploy_functions(client("lambda"), functions, chalice_config, out)
    _deploy_state_machines(client("stepfunctions"), state_machine_files, functions, app_name, stage, out)
    _create_event_rules(client("events"), client("lambda"), state_machine_files, functions, app_name, stage, out)
    return out


def _arn(region: str, service: str, resource: str, out: Seeded) -> str:
    """The ARN a deployed resource will have (names are fixed, so no lookup is needed)."""
    account = out.roles["lambda"].split(":")[4]
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _deploy_functions(lam: Any, functions: list[DeployedFunction], chalice_config: dict, out: Seeded) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("app.py", "# the local stack runs the project's handlers in-process\n")
    for function in functions:
        settings = chalice_config["functions"].get(function.function, {})
        lam.create_function(
            FunctionName=function.name, Runtime="python3.11", Role=out.roles["lambda"],
            Handler=f"app.{function.function}", Code={"ZipFile": archive.getvalue()},
            Timeout=settings.get("lambda_timeout", chalice_config["lambda_timeout"]),
            MemorySize=settings.get("lambda_memory_size", chalice_config["lambda_memory_size"]),
            Environment={"Variables": out.environment})


def _deploy_state_machines(sfn: Any, sources: list[statemachines.StateMachineSource],
                           functions: list[DeployedFunction], app_name: str, stage: str, out: Seeded) -> None:
    region = sfn.meta.region_name
    arns = {f.function: _arn(region, "lambda", f"function:{f.name}", out) for f in functions}
    others = {"HubTableName": out.environment["HUB_TABLE_NAME"],
              **{statemachines.state_machine_placeholder(s.name): _arn(
                  region, "states", f"stateMachine:{s.deployed_name(app_name, stage)}", out) for s in sources}}
    for source in sources:
        values = statemachines.substitutions(source.text, arns, others)
        created = sfn.create_state_machine(
            name=source.deployed_name(app_name, stage), roleArn=out.roles["states"],
            definition=statemachines.rendered(source, values))
        out.state_machines[source.name] = created["stateMachineArn"]


def _create_event_rules(events: Any, lam: Any, sources: list[statemachines.StateMachineSource],
                        functions: list[DeployedFunction], app_name: str, stage: str, out: Seeded) -> None:
    """The template's EventBridge rules and their invoke permissions, with this stack's ARNs for its Refs."""
    region = events.meta.region_name
    refs = {to_cfn_resource_name(f.function): _arn(region, "lambda", f"function:{f.name}", out) for f in functions}
    refs.update({s.logical_id: out.state_machines[s.name] for s in sources})
    for logical_id, rule in event_rules.rules().items():
        name = event_rules.deployed_name(logical_id, app_name, stage)
        refs[logical_id] = events.put_rule(
            Name=name, EventPattern=json.dumps(event_rules.resolve(rule["EventPattern"], refs)),
            State=rule.get("State", "ENABLED"), Description=rule.get("Description", ""))["RuleArn"]
        events.put_targets(Rule=name, Targets=[{"Id": t["Id"], "Arn": event_rules.resolve(t["Arn"], refs)}
                                               for t in rule["Targets"]])
    for logical_id, permission in event_rules.permissions().items():
        lam.add_permission(StatementId=logical_id, **{key: event_rules.resolve(permission[key], refs) for key in (
            "FunctionName", "Action", "Principal", "SourceArn")})
