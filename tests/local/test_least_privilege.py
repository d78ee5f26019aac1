"""Each function's IAM policy against every AWS action it performed in this session's end-to-end runs.

The stack records the actions of each handler it runs (coursehub_local/aws_calls.py); the whole
suite's runs (provisioning, the API, schedules, teardowns, failures) exercise every function. Run on its
own, this file has nothing to judge and skips. ``make test`` runs the end-to-end tests in several processes, each
leaving its record in ``COURSEHUB_CALLS_DIR``; this file then judges them all.
"""
import copy
import os
from pathlib import Path

import pytest

from chalicelib import hub_names, storage_addons, values
from coursehub import iam_policies
from coursehub_local import aws_calls
from coursehub_local.stack import StackConfig

pytestmark = pytest.mark.after_end_to_end
# Actions AWS offers no resource-level permission for (the IAM Service Authorization Reference lists no
# resource type for them), so their statements say "Resource": "*".
NO_RESOURCE_SCOPE = {
    "scheduler:ListSchedules": "lists every group's schedules",
    "ec2:DescribeNetworkInterfaces": "Describe* actions have no resource type",
    "ec2:DescribeSecurityGroups": "Describe* actions have no resource type",
    "ec2:DescribeVolumes": "Describe* actions have no resource type",
    "ec2:DescribeInstances": "Describe* actions have no resource type",
    "ec2:DescribeSubnets": "Describe* actions have no resource type",
    "elasticloadbalancing:DescribeLoadBalancers": "Describe* actions have no resource type",
    "elasticloadbalancing:DescribeTargetGroups": "Describe* actions have no resource type",
    "elasticloadbalancing:DescribeTags": "Describe* actions have no resource type",
    "elasticloadbalancing:DescribeInstanceHealth": "Describe* actions have no resource type",
    "elasticloadbalancing:DescribeTargetHealth": "Describe* actions have no resource type",
    "route53:ListHostedZonesByName": "lists every zone of the account",
    "route53:ListHostedZones": "lists every zone of the account",
    "eks:ListClusters": "lists every cluster of the account",
    "tag:GetResources": "searches every resource of the account",
    "ecr:GetAuthorizationToken": "a login to the whole registry (ECR user guide, image-push-iam: Resource \"*\")",
    "ecr:DescribeRepositories": "listing without repositoryNames reads the whole registry",
    "ecr:CreateRepositoryCreationTemplate": "templates belong to the registry, not to a repository",
    "ecr:UpdateRepositoryCreationTemplate": "templates belong to the registry, not to a repository",
    "ecr:DescribeRepositoryCreationTemplates": "templates belong to the registry, not to a repository",
    "ecr:DeleteRepositoryCreationTemplate": "templates belong to the registry, not to a repository",
}
# The audit deletes the network interfaces EKS leaves behind ("Amazon EKS <cluster>"): EKS tags them with nothing, so
# no tag condition can name them, and the condition keys ec2:Vpc / ec2:Subnet would need the stage's VPC in a policy
# file that is the same for every stage. Every other delete of the audit carries a tag condition.
CONTROLLER_LEFTOVERS = {"ec2:DeleteNetworkInterface"}
# Tags a condition may name, and what puts each on the resources the conditioned actions are used on.
CONDITION_TAGS = {
    hub_names.STAGE_TAG: "hub_names.tags: the cluster (create_cluster), the EBS CSI driver's extraVolumeTags, the "
                         "ingress Service's additional-resource-tags annotation (load balancer, its security group)",
    "aws:eks:cluster-name": "EKS, on the cluster security group (EKS user guide, sec-group-reqs)",
    "kubernetes.io/service-name": "cloud-provider-aws, on a Service's load balancer and target groups",
}


@pytest.fixture(scope="module")
def performed():
    if os.environ.get("COURSEHUB_CALLS_DIR"):  # the end-to-end runs ran in other processes (make test)
        aws_calls.load(Path(os.environ["COURSEHUB_CALLS_DIR"]))
    every = set(iam_policies.policies())
    if not aws_calls.INVOKED:
        pytest.skip("no end-to-end run in this session: run the whole suite")
    missing = every - aws_calls.INVOKED
    if missing and len(aws_calls.INVOKED) < len(every) // 2:
        pytest.skip(f"only part of the suite ran ({len(aws_calls.INVOKED)} of {len(every)} functions)")
    return aws_calls.recorded()


def test_every_function_ran_in_the_end_to_end_runs(performed):
    assert set(iam_policies.policies()) - aws_calls.INVOKED == set()


# Grants for paths the end-to-end runs cannot reach on the stand-in, each with when it is used on AWS. The
# test fails if one of them gets used (then it belongs to the proven set) or another grant goes unused.
UNREACHED = {
    ("audit_hub", "eks:ListNodegroups"): "only when the cluster still exists at the audit (its deletion failed); "
                                         "its node groups are reported, never deleted",
    ("audit_hub", "route53:ChangeResourceRecordSets"): "records of the hub's names other than the CNAMEs "
                                                       "'Delete the DNS records' deletes (e.g. made by hand)",
    ("audit_hub", "scheduler:DeleteSchedule"): "a hub schedule made after 'Delete the schedules' ran",
    ("audit_hub", "ecr:DeleteRepositoryCreationTemplate"): "a template made after 'Delete the image repositories' ran",
    ("audit_hub", "ecr:DeleteRepository"): "a repository pushed after 'Delete the image repositories' ran",
    ("configure_load_balancer", "elasticloadbalancing:DescribeTargetGroups"): "an NLB in front of the ingress",
    ("configure_load_balancer", "elasticloadbalancing:ModifyTargetGroup"): "an NLB in front of the ingress",
    ("delete_nodegroup", "eks:DescribeNodegroup"): "a node group mid-change when the teardown reaches it",
}


# Grants a run may or may not use, depending on timing. "Configure the load balancer" patches the ingress ELB's
# health check only when it is not on port 80's NodePort. That happened in some full runs while the stand-in let a
# Service rewritten without NodePorts get new ones (the ELB then checked a stale port); since NodePorts come from the
# API server's write (coursehub_local/kube/node_ports.py), two full runs checked did not use it. On AWS the patch
# stays the safety net for an ELB whose check was edited by hand.
TIMING_DEPENDENT = {
    ("configure_load_balancer", "elasticloadbalancing:ConfigureHealthCheck"):
        "a classic ELB read before (or with) a health check the provider set wrong",
}


def test_each_policy_allows_what_its_function_does(performed):
    problems = [p for p in iam_policies.problems(performed, iam_policies.policies()) if p.kind == "not allowed"]
    assert problems == [], "\n".join(map(str, problems))


def test_each_policy_grants_nothing_its_function_does_not_use(performed):
    unused = {(p.function, p.action) for p in iam_policies.problems(performed, iam_policies.policies())
              if p.kind == "never used"}
    unused -= set(TIMING_DEPENDENT)
    assert sorted(unused - set(UNREACHED)) == [], "granted but never used"
    assert sorted(set(UNREACHED) - unused) == [], "used now: drop them from UNREACHED"


def test_a_removed_permission_fails_the_check_naming_the_function_and_action(performed):
    documents = iam_policies.policies()
    function, action = "create_cluster", "eks:CreateCluster"
    assert action in performed[function]
    weakened = copy.deepcopy(documents)
    for statement in weakened[function]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [a for a in actions if a != action] or ["eks:DescribeCluster"]
    problems = iam_policies.problems(performed, weakened)
    assert iam_policies.Problem(function, action, "not allowed") in problems
    assert "create_cluster calls eks:CreateCluster, which its policy does not allow" in map(str, problems)


def test_resources_are_scoped_except_where_aws_offers_no_scope():
    for function, policy in iam_policies.policies().items():
        for actions in iam_policies.wildcard_resources(policy):
            unscoped = [a for a in actions if a not in NO_RESOURCE_SCOPE
                        and not (function == "audit_hub" and a in CONTROLLER_LEFTOVERS)]
            assert unscoped == [], f"{function}: {unscoped} on every resource"


def test_each_tag_conditioned_action_was_used_only_on_resources_its_condition_allows(performed):
    """IAM's conditions as AWS would judge them: the tags each resource had when a function acted on it (recorded by
    coursehub_local/resource_tags.py) against the function's policy, for the stack's stage (its roles' tag)."""
    documents, stage = iam_policies.policies(), StackConfig().stage
    judged = {(function, action): seen for (function, action), seen in aws_calls.RESOURCE_TAGS.items()
              if iam_policies.tag_conditions(documents[function])}
    assert ("audit_hub", "ec2:DeleteVolume") in judged and ("delete_cluster", "eks:DeleteCluster") in judged
    refused = [(function, action, tags) for (function, action), seen in judged.items() for tags in seen
               if not iam_policies.allowed_on(documents[function], action, tags, {hub_names.STAGE_TAG: stage})]
    assert refused == [], "IAM would refuse these calls"


def test_every_tag_condition_names_a_tag_the_app_or_eks_puts_on_what_the_action_is_used_on():
    conditioned = {(function, action): keys for function, policy in iam_policies.policies().items()
                   for action, keys in iam_policies.tag_conditions(policy).items()}
    assert {action for _, action in conditioned} == {
        "eks:DeleteCluster", "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteTargetGroup",
        "ec2:DeleteVolume", "ec2:DeleteSecurityGroup", "ec2:RevokeSecurityGroupIngress",
        "elasticloadbalancing:ConfigureHealthCheck", "elasticloadbalancing:ModifyTargetGroup"}
    assert set().union(*conditioned.values()) <= set(CONDITION_TAGS)
    # The stage tag is what the hub's resources and its controllers' resources are given.
    tags = hub_names.tags("dev", "hub-1", "cs101")
    assert tags[hub_names.STAGE_TAG] == "dev"
    assert "coursehub:stage=dev" in values.ingress_values(None, tags)["controller"]["service"]["annotations"][
        values.ADDITIONAL_TAGS_ANNOTATION]
    assert '"coursehub:stage": "dev"' in storage_addons.driver_configuration("coursehub-dev-cs101", tags)
    # And the audit attempts a conditioned delete only on what carries such a tag (chalicelib/audit.py).
    assert hub_names.stage_problem({hub_names.STAGE_TAG: "dev"}, "dev") is None
    assert hub_names.stage_problem({"kubernetes.io/cluster/coursehub-dev-cs101": "owned"}, "dev") is not None
