"""The IAM actions a recorded call needs: a DynamoDB transaction is authorized item by item."""
from coursehub_local.aws_calls import needed_by


def test_a_call_needs_its_own_action():
    assert needed_by("states", "StartExecution", {}) == {"states:StartExecution"}


def test_a_transaction_needs_the_single_item_actions_it_performs_and_no_transact_action():
    items = [{"Put": {}}, {"Put": {}}, {"ConditionCheck": {}}, {"Delete": {}}, {"Update": {}}]
    assert needed_by("dynamodb", "TransactWriteItems", {"TransactItems": items}) == {
        "dynamodb:PutItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"}
    assert needed_by("dynamodb", "TransactGetItems", {"TransactItems": [{"Get": {}}]}) == {"dynamodb:GetItem"}
