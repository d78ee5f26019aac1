"""DynamoDB transactions on the local stack: isolated from other requests' writes, as on DynamoDB."""
import threading
import uuid

from botocore.exceptions import ClientError


def test_a_cancelled_transaction_loses_no_write_another_request_made_meanwhile(stack):
    # DynamoDB: transactions are serializable with respect to other requests' single-item writes
    # (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-isolation);
    # moto 5.2.5 alone restores a whole-table copy on cancelling, undoing the writes made while the transaction ran.
    dynamodb, table = stack.client("dynamodb"), f"race-{uuid.uuid4().hex[:6]}"
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "hub_id", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "hub_id", "KeyType": "HASH"}])
    for first in range(0, 1500, 25):  # a table big enough that copying it takes a while (without the fix 2-4 of
        # the 240 updates were lost in each of two runs here)
        dynamodb.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": {"hub_id": {"S": f"filler-{n}"}, "data": {"L": [{"S": "x"}] * 40}}}}
            for n in range(first, first + 25)]})
    dynamodb.put_item(TableName=table, Item={"hub_id": {"S": "counter"}, "n": {"N": "0"}})
    refused = {"Put": {"TableName": table, "Item": {"hub_id": {"S": "filler-0"}},
                       "ConditionExpression": "attribute_not_exists(hub_id)"}}
    cancelled = []

    def cancel_transactions():
        for _ in range(15):
            try:
                dynamodb.transact_write_items(TransactItems=[refused])
            except ClientError as error:
                cancelled.append(error.response["Error"]["Code"])

    def count(times):
        for _ in range(times):
            dynamodb.update_item(TableName=table, Key={"hub_id": {"S": "counter"}}, UpdateExpression="ADD n :one",
                                 ExpressionAttributeValues={":one": {"N": "1"}})

    threads = [threading.Thread(target=cancel_transactions) for _ in range(2)] + [
        threading.Thread(target=count, args=(60,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cancelled == ["TransactionCanceledException"] * 30
    counter = dynamodb.get_item(TableName=table, Key={"hub_id": {"S": "counter"}}, ConsistentRead=True)["Item"]
    assert counter["n"]["N"] == "240"
    dynamodb.delete_table(TableName=table)
