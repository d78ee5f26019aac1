"""The record of the app's AWS calls: per function, in order while watched, and the IAM actions a call needs (a
DynamoDB transaction is authorized item by item). The functions and actions here are ones the real functions
perform, so the record this leaves agrees with the least-privilege check's."""
import boto3
from botocore.stub import Stubber

from coursehub_local import aws_calls


def test_calls_are_watched_in_order_with_botocores_service_name_and_only_inside_a_function():
    elb, elbv2 = (boto3.session.Session().client(name, region_name="us-east-1") for name in ("elb", "elbv2"))
    with Stubber(elb) as stubbed_elb, Stubber(elbv2) as stubbed_elbv2:
        for _ in range(2):
            stubbed_elb.add_response("describe_load_balancers", {"LoadBalancerDescriptions": []})
            stubbed_elbv2.add_response("describe_load_balancers", {"LoadBalancers": []})
        with aws_calls.watching() as calls:
            elb.describe_load_balancers()  # no function running: not the app's call
            with aws_calls.running("audit_hub"):
                elbv2.describe_load_balancers()
            with aws_calls.running("check_released"):
                elb.describe_load_balancers()
        with aws_calls.running("audit_hub"):
            elbv2.describe_load_balancers()  # after the watch
    assert calls == [aws_calls.Call("audit_hub", "elbv2", "DescribeLoadBalancers"),
                     aws_calls.Call("check_released", "elb", "DescribeLoadBalancers")]
    assert "elasticloadbalancing:DescribeLoadBalancers" in aws_calls.recorded()["check_released"]


def test_a_call_needs_its_own_action():
    assert aws_calls.needed_by("states", "StartExecution", {}) == {"states:StartExecution"}


def test_a_transaction_needs_the_single_item_actions_it_performs_and_no_transact_action():
    items = [{"Put": {}}, {"Put": {}}, {"ConditionCheck": {}}, {"Delete": {}}, {"Update": {}}]
    assert aws_calls.needed_by("dynamodb", "TransactWriteItems", {"TransactItems": items}) == {
        "dynamodb:PutItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"}
    assert aws_calls.needed_by("dynamodb", "TransactGetItems", {"TransactItems": [{"Get": {}}]}) == {"dynamodb:GetItem"}
