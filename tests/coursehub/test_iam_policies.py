"""The policy check on made-up policies: missing grants, unused grants, patterns, what is derived."""
import pytest

from coursehub import iam_policies
from coursehub.iam_policies import Problem


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions), "Resource": "*"} for actions in statements]}


LOGS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")


def test_a_call_the_policy_does_not_allow_and_a_grant_never_used_are_both_named():
    found = iam_policies.problems({"f": {"eks:DescribeCluster", "dynamodb:GetItem"}},
                                  {"f": policy(LOGS, ["eks:DescribeCluster", "eks:DeleteCluster"])})
    assert found == [Problem("f", "dynamodb:GetItem", "not allowed"), Problem("f", "eks:DeleteCluster", "never used")]


def test_patterns_match_case_insensitively_and_count_as_used_when_anything_matches():
    documents = {"f": policy(LOGS, ["ec2:Describe*"])}
    assert iam_policies.problems({"f": {"ec2:describeVolumes"}}, documents) == []
    assert iam_policies.problems({"f": set()}, documents) == [Problem("f", "ec2:Describe*", "never used")]


def test_passing_a_role_is_needed_by_the_calls_that_pass_one_and_identity_needs_nothing():
    documents = {"f": policy(LOGS, ["scheduler:CreateSchedule"])}
    assert iam_policies.problems({"f": {"scheduler:CreateSchedule", "sts:GetCallerIdentity"}}, documents) == [
        Problem("f", "iam:PassRole", "not allowed")]


def test_a_function_without_a_policy_is_named():
    assert iam_policies.problems({"g": {"s3:GetObject"}}, {}) == [Problem("g", "(no policy)", "not allowed")]


def test_every_function_of_the_app_has_its_policy_file():
    from coursehub import packaging

    documents = iam_policies.policies()
    assert set(packaging.app_functions()) | {"api_handler"} == set(documents)
    for name, document in documents.items():
        assert iam_policies.granted(document), name


STAGE_POLICY = {"Statement": [
    {"Effect": "Allow", "Action": ["ec2:DeleteVolume", "ec2:DeleteSecurityGroup"], "Resource": "*",
     "Condition": {"StringEquals": {"aws:ResourceTag/coursehub:stage": "${aws:PrincipalTag/coursehub:stage}"}}},
    {"Effect": "Allow", "Action": ["ec2:DeleteSecurityGroup"], "Resource": "*", "Condition": {"StringLike": {
        "aws:ResourceTag/aws:eks:cluster-name": "coursehub-${aws:PrincipalTag/coursehub:stage}-*"}}},
    {"Effect": "Allow", "Action": "ec2:DeleteNetworkInterface", "Resource": "*"},
]}
DEV = {"coursehub:stage": "dev"}


def test_a_tag_condition_holds_only_for_the_principals_stage():
    assert iam_policies.allowed_on(STAGE_POLICY, "ec2:DeleteVolume", {"coursehub:stage": "dev"}, DEV)
    assert not iam_policies.allowed_on(STAGE_POLICY, "ec2:DeleteVolume", {"coursehub:stage": "prod"}, DEV)
    assert not iam_policies.allowed_on(STAGE_POLICY, "ec2:DeleteVolume", {}, DEV)
    assert not iam_policies.allowed_on(STAGE_POLICY, "ec2:DeleteVolume", {"coursehub:stage": "dev"}, {})


def test_another_statement_may_allow_by_another_tag_and_an_unconditioned_one_always_does():
    group = {"aws:eks:cluster-name": "coursehub-dev-cs101"}
    assert iam_policies.allowed_on(STAGE_POLICY, "ec2:DeleteSecurityGroup", group, DEV)
    assert not iam_policies.allowed_on(STAGE_POLICY, "ec2:DeleteSecurityGroup",
                                       {"aws:eks:cluster-name": "coursehub-deveu-cs101"}, DEV)
    assert not iam_policies.allowed_on(STAGE_POLICY, "ec2:DeleteVolume", group, DEV)  # that statement is SGs only
    assert iam_policies.allowed_on(STAGE_POLICY, "ec2:DeleteNetworkInterface", {}, DEV)
    assert not iam_policies.allowed_on(STAGE_POLICY, "ec2:DeleteSubnet", {"coursehub:stage": "dev"}, DEV)


def test_a_condition_the_check_cannot_evaluate_is_named():
    policy = {"Statement": [{"Effect": "Allow", "Action": "ec2:DeleteVolume", "Resource": "*",
                             "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["x"]}}}]}
    with pytest.raises(ValueError, match="cannot evaluate ForAnyValue:StringEquals on aws:TagKeys"):
        iam_policies.allowed_on(policy, "ec2:DeleteVolume", {}, DEV)


def test_a_principal_tag_in_a_resource_is_read_as_the_roles_tag():
    pattern = "arn:*:dynamodb:*:*:table/coursehub-${aws:PrincipalTag/coursehub:stage}-*"
    assert iam_policies.resolved(pattern, DEV) == "arn:*:dynamodb:*:*:table/coursehub-dev-*"
    assert iam_policies.resolved(pattern, {}) == pattern  # no such tag: nothing matches it on AWS either
