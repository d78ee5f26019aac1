"""The policy check on made-up policies: missing grants, unused grants, patterns, what is derived."""
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
