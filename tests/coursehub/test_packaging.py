"""``chalice package`` with the merge template gives a template cfn-lint accepts, holding everything the app needs."""
import fnmatch
import json
import zipfile

import pytest
from chalice.utils import to_cfn_resource_name

from coursehub import deploy_plan, iam_policies, packaging, statemachines
from coursehub.chalice_config import chalice_stage_config
from coursehub_local.dispatch import functions_of
from chalicelib.settings import Settings

CONFIG = chalice_stage_config(packaging.ROOT, "dev")
ACCOUNT = {"${AWS::Partition}": "aws", "${AWS::Region}": "us-east-1", "${AWS::AccountId}": "123456789012"}


@pytest.fixture(scope="module")
def template(packaged):
    return json.loads((packaged / "sam.json").read_text())


@pytest.fixture(scope="module")
def resources(template):
    return template["Resources"]


def functions(resources):
    return {name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}


def test_the_packaged_template_lints_clean(packaged):
    packaging.lint(packaged)  # raises on any cfn-lint finding; nothing is suppressed
    assert (packaged / "deployment.zip").stat().st_size > 0


def test_every_function_has_its_fixed_name_and_its_own_policy_file(resources):
    expected = packaging.function_logical_ids(packaging.app_functions())
    assert set(functions(resources)) == set(expected)
    roles = set()
    for logical_id, function in expected.items():
        properties = resources[logical_id]["Properties"]
        assert properties["FunctionName"] == f"coursehub-dev-{function}"
        role = properties["Role"]["Fn::GetAtt"][0]
        policy_file = packaging.ROOT / ".chalice" / CONFIG["functions"][function]["iam_policy_file"]
        policy = json.loads(policy_file.read_text())
        assert [p["PolicyDocument"] for p in resources[role]["Properties"]["Policies"]] == [policy], function
        roles.add(role)
    assert len(roles) == len(expected)


def test_every_function_logs_to_its_own_group_with_the_retention(template, resources):
    for logical_id, function in functions(resources).items():
        group = resources[logical_id + "LogGroup"]
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert group["Properties"] == {"LogGroupName": "/aws/lambda/" + function["Properties"]["FunctionName"],
                                       "RetentionInDays": {"Ref": "LogRetentionDays"}}
        assert function["DependsOn"] == [logical_id + "LogGroup"]  # Lambda never makes one without the retention
    retention = template["Parameters"]["LogRetentionDays"]
    assert retention["Default"] == 30 and {1, 30, 365, 3653} <= set(retention["AllowedValues"])


def test_the_kubectl_layer_goes_to_exactly_the_functions_that_run_helm_and_kubectl(packaged, resources):
    layered = {name for name, r in functions(resources).items() if "Layers" in r["Properties"]}
    assert layered == {to_cfn_resource_name(f) for f in packaging.KUBE_FUNCTIONS}
    assert all(resources[name]["Properties"]["Layers"] == [{"Ref": "KubectlLayer"}] for name in layered)
    layer = resources["KubectlLayer"]["Properties"]
    assert layer["LayerName"] == "coursehub-dev-kubectl-helm"
    assert layer["CompatibleRuntimes"] == [resources["InstallRelease"]["Properties"]["Runtime"]]
    with zipfile.ZipFile(packaged / layer["ContentUri"]) as archive:
        assert {"helm/helm", "kubectl/kubectl"} <= set(archive.namelist())  # /opt/helm/helm, /opt/kubectl/kubectl


def test_the_settings_come_from_parameters_defaulting_to_the_stage_config(template, resources):
    parameters = template["Parameters"]
    # A stage that sets none of them gets chalicelib/settings.py's defaults, the one place defaults live.
    defaults = Settings.from_env({"STAGE": "dev", "HUB_TABLE_NAME": "t", "SLACK_WEBHOOK_SECRET_ARN": "arn:x"})
    for variable, parameter, default in (
            ("ALLOWED_INSTANCE_TYPES", "AllowedInstanceTypes", ",".join(defaults.allowed_instance_types)),
            ("MAX_NODES_PER_HUB", "MaxNodesPerHub", str(defaults.max_nodes_per_hub)),
            ("TERM_HORIZON_DAYS", "TermHorizonDays", str(defaults.term_horizon_days)),
            ("ALLOW_EXTENDED_SUPPORT", "AllowExtendedSupport", str(defaults.allow_extended_support).lower())):
        assert str(parameters[parameter]["Default"]).lower() == CONFIG["environment"].get(variable, default).lower()
        for function in functions(resources).values():
            assert function["Properties"]["Environment"]["Variables"][variable] == {"Ref": parameter}
    variables = resources["NotifySlack"]["Properties"]["Environment"]["Variables"]
    assert variables["SLACK_WEBHOOK_SECRET_ARN"] == {"Ref": "SlackWebhookSecretArn"}
    assert variables["CHART_REPOSITORY"] == {"Fn::If": ["HasChartRepository", {"Ref": "ChartRepository"},
                                                        {"Ref": "AWS::NoValue"}]}
    assert variables["CLUSTER_ROLE_ARN"] == {"Fn::GetAtt": ["EksClusterRole", "Arn"]}
    assert variables["NODE_ROLE_ARN"] == {"Fn::GetAtt": ["EksNodeRole", "Arn"]}
    assert variables["KUBE_ROLE_ARNS"]["Fn::Join"][1] == [
        {"Fn::GetAtt": [to_cfn_resource_name(f) + "Role", "Arn"]} for f in packaging.KUBE_FUNCTIONS]
    # What the scheduler and the app call by name is what the template names.
    names = {r["Properties"]["FunctionName"] for r in functions(resources).values()}
    for arn in (variables["SCALE_FUNCTION_ARN"], variables["NOTIFY_FUNCTION_ARN"], variables["REGISTRY_LOGIN_FUNCTION_ARN"],
                *resources["SchedulerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][1]["Resource"]):
        assert arn["Fn::Sub"].rsplit(":", 1)[1] in names
    assert not any("ClusterRoleArn" in p or "NodeRoleArn" in p for p in parameters)


@pytest.mark.parametrize("role, function, trusted, policies", [
    ("EksClusterRole", "create_cluster", "eks.amazonaws.com", {"AmazonEKSClusterPolicy"}),
    ("EksNodeRole", "create_nodegroup", "ec2.amazonaws.com",
     {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"}),
])
def test_the_eks_roles_are_in_the_stack_and_their_function_may_pass_them(resources, role, function, trusted, policies):
    properties = resources[role]["Properties"]
    assert properties["RoleName"] == f"coursehub-dev-eks-{'cluster' if role == 'EksClusterRole' else 'node'}"
    assert [s["Principal"]["Service"] for s in properties["AssumeRolePolicyDocument"]["Statement"]] == [trusted]
    assert {p["Fn::Sub"].rsplit("/", 1)[1] for p in properties["ManagedPolicyArns"]} == policies
    statements = deploy_plan.role_statements({"Resources": resources}, to_cfn_resource_name(function))
    passable = [iam_policies.resolved(r, {"coursehub:stage": "dev"})  # the role's tag (merge_template)
                for s in statements if "iam:PassRole" in deploy_plan._listed(s["Action"])
                for r in deploy_plan._listed(s["Resource"])]
    arn = f"arn:aws:iam::123456789012:role/{properties['RoleName']}"
    assert any(fnmatch.fnmatchcase(arn, pattern) for pattern in passable), passable


def region_prefix(region: str) -> str:
    """``use1`` for us-east-1: the prefix of the region's AZ IDs."""
    area, direction, number = region.split("-")
    return area + {"east": "e", "west": "w", "central": "c"}[direction] + number


def test_without_subnets_the_stack_makes_a_public_vpc_in_two_zones(template, resources):
    made = {name for name, r in resources.items() if r.get("Condition") == "CreateVpc"}
    assert made == {"Vpc", "InternetGateway", "VpcGatewayAttachment", "PublicSubnetA", "PublicSubnetB",
                    "PublicRouteTable", "PublicRoute", "PublicSubnetARouteTableAssociation",
                    "PublicSubnetBRouteTableAssociation"}
    subnets = [resources[name]["Properties"] for name in ("PublicSubnetA", "PublicSubnetB")]
    # By AZ ID where EKS skips a zone (AZ names map to different IDs per account), else the first two zones
    assert [s["AvailabilityZone"]["Fn::If"][2]["Fn::Select"][0] for s in subnets] == [0, 1]
    assert [s["AvailabilityZoneId"]["Fn::If"][1]["Fn::FindInMap"][2] for s in subnets] == ["A", "B"]
    for region, zones in template["Mappings"]["EksSupportedZoneIds"].items():
        assert not {"use1-az3", "usw1-az2", "cac1-az3"} & set(zones.values())
        assert len(set(zones.values())) == 2 and all(zone.startswith(region_prefix(region)) for zone in zones.values())
    assert {c["Fn::Equals"][1] for c in template["Conditions"]["RegionHasZoneEksSkips"]["Fn::Or"]} == {
        "us-east-1", "us-west-1", "ca-central-1"}
    for subnet in subnets:
        assert subnet["MapPublicIpOnLaunch"] is True
        assert {"Key": "kubernetes.io/role/elb", "Value": "1"} in subnet["Tags"]
    assert resources["PublicRoute"]["Properties"]["DestinationCidrBlock"] == "0.0.0.0/0"
    condition = template["Conditions"]["CreateVpc"]
    assert deploy_plan.evaluate(condition, template, deploy_plan.parameter_values(template, {})) is True
    given = deploy_plan.parameter_values(template, {"SubnetIds": "subnet-0a,subnet-0b"})
    assert deploy_plan.evaluate(condition, template, given) is False
    assert resources["CheckCluster"]["Properties"]["Environment"]["Variables"]["SUBNET_IDS"]["Fn::If"][0] == "CreateVpc"


@pytest.mark.parametrize("source", statemachines.sources(), ids=lambda s: s.name)
def test_each_state_machine_runs_its_asl_file_with_the_functions_the_local_stack_runs(resources, source):
    properties = resources[source.logical_id]["Properties"]
    assert properties["Definition"] == statemachines.definition(source)
    assert properties["StateMachineName"] == f"coursehub-dev-{source.name}"

    def resolve(value):  # as CloudFormation would, through the names the template fixes
        if "Fn::GetAtt" in value:
            name = resources[value["Fn::GetAtt"][0]]["Properties"]["FunctionName"]
            return f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        if "Ref" in value:
            return resources[value["Ref"]]["Properties"]["TableName"]
        text = value["Fn::Sub"]
        for name, replacement in ACCOUNT.items():
            text = text.replace(name, replacement)
        return text

    deployed = {f.function: f"arn:aws:lambda:us-east-1:123456789012:function:{f.name}"
                for f in functions_of("app", "dev")}
    machines = {statemachines.state_machine_placeholder(s.name): "arn:aws:states:us-east-1:123456789012:"
                f"stateMachine:coursehub-dev-{s.name}" for s in statemachines.sources()}
    local = statemachines.substitutions(source.text, deployed,
                                        {"HubTableName": CONFIG["environment"]["HUB_TABLE_NAME"], **machines})
    assert {key: resolve(value) for key, value in properties["DefinitionSubstitutions"].items()} == local


def test_what_was_there_before_stays(template, resources):
    table = resources["HubTable"]["Properties"]
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert resources["HubTable"]["DeletionPolicy"] == "Retain"
    assert resources["IdempotencyTable"]["Properties"]["TableName"] == "coursehub-dev-idempotency"
    assert resources["ScheduleGroup"]["Properties"]["Name"] == "coursehub-dev"
    assert resources["ExecutionEndRule"]["Properties"]["Name"] == "coursehub-dev-ExecutionEndRule"
    assert {r["Properties"]["ResponseType"] for r in resources.values()
            if r["Type"] == "AWS::ApiGateway::GatewayResponse"} == {"DEFAULT_4XX", "DEFAULT_5XX"}
    assert {"SchedulerRole", "StateMachineRole", "RestAPI"} <= set(resources)
    assert "EndpointURL" in template["Outputs"]


def test_a_placeholder_of_template_json_without_a_value_is_named():
    with pytest.raises(statemachines.PlaceholderError, match="VpcName"):
        packaging._fill({"Tags": [{"Key": "Name", "Value": "${VpcName}"}]}, {})


def test_the_ebs_csi_role_is_for_pod_identity_and_its_function_may_pass_it(resources):
    properties = resources["EbsCsiDriverRole"]["Properties"]
    assert properties["RoleName"] == "coursehub-dev-ebs-csi"
    [trust] = properties["AssumeRolePolicyDocument"]["Statement"]
    assert (trust["Principal"]["Service"], trust["Action"]) == ("pods.eks.amazonaws.com",
                                                                ["sts:AssumeRole", "sts:TagSession"])
    assert [p["Fn::Sub"] for p in properties["ManagedPolicyArns"]] == [
        "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"]
    function = resources[to_cfn_resource_name("create_storage_addons")]["Properties"]
    assert function["Environment"]["Variables"]["EBS_CSI_ROLE_ARN"] == {"Fn::GetAtt": ["EbsCsiDriverRole", "Arn"]}
    statements = deploy_plan.role_statements({"Resources": resources}, to_cfn_resource_name("create_storage_addons"))
    passable = [iam_policies.resolved(r, {"coursehub:stage": "dev"})  # the role's tag (merge_template)
                for s in statements if "iam:PassRole" in deploy_plan._listed(s["Action"])
                for r in deploy_plan._listed(s["Resource"])]
    assert any(fnmatch.fnmatchcase("arn:aws:iam::123456789012:role/coursehub-dev-ebs-csi", p) for p in passable)


def test_every_functions_role_carries_the_stage_its_policies_read_as_a_principal_tag(resources):
    for logical_id, function in packaging.function_logical_ids(packaging.app_functions()).items():
        role = resources[logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        assert resources[role]["Type"] == "AWS::IAM::Role"
        assert {"Key": "coursehub:stage", "Value": "dev"} in resources[role]["Properties"]["Tags"], function
    audit_policy = json.loads((packaging.ROOT / ".chalice" / "policy-audit-hub.json").read_text())
    conditioned = [s for s in audit_policy["Statement"] if "Condition" in s]
    assert conditioned and all("${aws:PrincipalTag/coursehub:stage}" in json.dumps(s["Condition"])
                               for s in conditioned)


def test_route53_changes_are_denied_outside_the_stages_hosted_zones_when_they_are_given(template, resources):
    assert template["Parameters"]["HostedZoneIds"]["Type"] == "CommaDelimitedList"
    policy = resources["StageHostedZonesOnly"]
    assert policy["Condition"] == "HasHostedZoneIds"
    assert sorted(r["Ref"] for r in policy["Properties"]["Roles"]) == sorted(
        to_cfn_resource_name(f) + "Role" for f in packaging.DNS_FUNCTIONS)
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Action"]) == ("Deny", "route53:ChangeResourceRecordSets") and "NotResource" in deny
    changers = {f for f, settings in CONFIG["functions"].items()
                if "route53:ChangeResourceRecordSets" in json.dumps(json.loads(
                    (packaging.ROOT / ".chalice" / settings["iam_policy_file"]).read_text()))}
    assert changers == set(packaging.DNS_FUNCTIONS)


def test_each_policy_names_only_its_own_stages_logs_tables_schedules_and_roles():
    """Resources are scoped by the role's stage tag; EKS names keep "coursehub-*": hubs recorded before the stage was
    in cluster names have clusters "coursehub-<course>" (their deletion still needs the stage's tag)."""
    dev, prod = {"coursehub:stage": "dev"}, {"coursehub:stage": "prod"}
    for function, settings in CONFIG["functions"].items():
        policy = json.loads((packaging.ROOT / ".chalice" / settings["iam_policy_file"]).read_text())
        patterns = [r for s in policy["Statement"] for r in deploy_plan._listed(s["Resource"])]
        unscoped = [r for r in patterns if "coursehub" in r and "${aws:PrincipalTag/coursehub:stage}" not in r
                    and ":eks:" not in r and ":secret:coursehub/" not in r]
        assert unscoped == [], function
        logs = f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{packaging.function_name('dev', function)}"
        assert any(fnmatch.fnmatchcase(logs, iam_policies.resolved(p, dev)) for p in patterns), function
        assert not any(fnmatch.fnmatchcase(logs, iam_policies.resolved(p, prod)) for p in patterns if ":logs:" in p)
        hubs = f"arn:aws:dynamodb:us-east-1:123456789012:table/{CONFIG['environment']['HUB_TABLE_NAME']}"
        for table in [r for r in patterns if ":dynamodb:" in r]:
            assert fnmatch.fnmatchcase(hubs, iam_policies.resolved(table, dev)), function
            assert not fnmatch.fnmatchcase(hubs.replace("-dev-", "-prod-"), iam_policies.resolved(table, dev))
