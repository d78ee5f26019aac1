"""Hub records (chalicelib/hub_records.py): a hub's public names belong to one live hub, claimed in the same
transaction as its record (named apart from tests/local/test_hub_records.py: test modules share one namespace).

Each test that takes ``dynamodb`` runs on the in-memory twin and on moto's DynamoDB (tests/chalicelib/conftest.py).
"""
import pytest
from botocore.exceptions import ClientError

from chalicelib import hub_records

TABLE = "coursehub-hubs"
NAMES = ("courses.example.edu", "binder.courses.example.edu", "hub.binder.courses.example.edu")


def create(dynamodb, hub, names=NAMES, **fields):
    return hub_records.create(dynamodb, TABLE, hub, {"course_id": hub.removeprefix("hub-")}, names, **fields)


def items(dynamodb) -> dict:
    """Every item of the table by key (hubs and claims), as DynamoDB holds them."""
    found = {}
    for key in ("hub-a", "hub-b", *(hub_records.CLAIM + n for n in NAMES + ("other.example.edu",))):
        item = dynamodb.get_item(TableName=TABLE, Key={"hub_id": {"S": key}}, ConsistentRead=True).get("Item")
        if item:
            found[key] = item
    return found


def test_a_name_a_live_hub_holds_is_refused_naming_that_hub_and_nothing_is_written(dynamodb):
    create(dynamodb, "hub-a")
    before = items(dynamodb)
    for names in (NAMES, ("courses.example.edu",), ("other.example.edu", "hub.binder.courses.example.edu")):
        with pytest.raises(hub_records.NameTaken) as taken:
            create(dynamodb, "hub-b", names)
        assert taken.value.holder == "hub-a" and taken.value.status == "PROVISIONING"
        assert taken.value.name in names and "belongs to hub hub-a" in str(taken.value)
    assert items(dynamodb) == before  # no record for hub-b, no claim changed


@pytest.mark.parametrize("status", ["READY", "FAILED", "RETIRING"])
def test_a_hub_holds_its_names_in_every_status_but_retired(dynamodb, status):
    create(dynamodb, "hub-a")
    hub_records.set_status(dynamodb, TABLE, "hub-a", status)
    with pytest.raises(hub_records.NameTaken) as taken:
        create(dynamodb, "hub-b")
    assert (taken.value.holder, taken.value.status) == ("hub-a", status)


def test_a_retired_hubs_names_are_free_again_and_then_held_by_the_new_hub(dynamodb):
    create(dynamodb, "hub-a")
    hub_records.set_status(dynamodb, TABLE, "hub-a", "RETIRED")
    record = create(dynamodb, "hub-b")
    assert record["names"] == list(NAMES)
    with pytest.raises(hub_records.NameTaken) as taken:  # the retired course comes back: its names are hub-b's now
        create(dynamodb, "hub-a")
    assert taken.value.holder == "hub-b"
    assert hub_records.get(dynamodb, TABLE, "hub-a")["status"] == "RETIRED"


def test_a_replaced_record_holds_only_its_own_names(dynamodb):
    create(dynamodb, "hub-a")
    hub_records.set_status(dynamodb, TABLE, "hub-a", "RETIRED")
    create(dynamodb, "hub-a", ("other.example.edu",))  # the course's new hub, elsewhere
    create(dynamodb, "hub-b")  # the old hub's names are free, though their claims still name hub-a
    with pytest.raises(hub_records.NameTaken) as taken:
        create(dynamodb, "hub-b-2", ("other.example.edu",))
    assert taken.value.holder == "hub-a"


def test_the_courses_live_hub_is_the_answer_to_a_repeat_even_with_names_held_elsewhere(dynamodb):
    create(dynamodb, "hub-a")
    create(dynamodb, "hub-b", ("other.example.edu",))
    with pytest.raises(hub_records.HubAlreadyExists):
        create(dynamodb, "hub-b")  # its own names: its record's condition refuses
    with pytest.raises(hub_records.HubAlreadyExists):
        create(dynamodb, "hub-b", NAMES)  # hub-a's names, but hub-b is live: the repeat returns hub-b


def test_a_claim_taken_between_reading_and_writing_refuses_the_transaction_and_is_read_again(dynamodb, monkeypatch):
    original = hub_records._free_claim
    raced = []

    def racing(client, table, name, hub_id):
        claim = original(client, table, name, hub_id)
        if not raced:  # another request takes the name just after this one found it free
            raced.append(hub_id)
            create(client, "hub-a", (name,))
        return claim

    monkeypatch.setattr(hub_records, "_free_claim", racing)
    with pytest.raises(hub_records.NameTaken) as taken:
        create(dynamodb, "hub-b", ("courses.example.edu",))
    assert taken.value.holder == "hub-a"
    with pytest.raises(hub_records.HubNotFound):
        hub_records.get(dynamodb, TABLE, "hub-b")


def test_a_transaction_with_two_operations_on_one_item_is_refused_as_dynamodb_refuses_it(dynamodb):
    # "Transaction request cannot include multiple operations on one item": the TransactWriteItems ValidationException
    # (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html); moto raises it too
    put = {"Put": {"TableName": TABLE, "Item": {"hub_id": {"S": "name:x"}, "holder": {"S": "hub-a"}}}}
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=[put, put])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "multiple operations on one item" in refused.value.response["Error"]["Message"]
    assert not dynamodb.get_item(TableName=TABLE, Key={"hub_id": {"S": "name:x"}}).get("Item")


def test_a_hub_naming_one_name_twice_claims_it_once(dynamodb):
    create(dynamodb, "hub-a", ("courses.example.edu", "courses.example.edu"))
    assert hub_records.get(dynamodb, TABLE, "hub-a")["names"] == ["courses.example.edu"]


def test_a_listing_shows_hubs_not_claims_and_pages_past_them(aws):
    dynamodb = aws("dynamodb")
    dynamodb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "hub_id", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "hub_id", "KeyType": "HASH"}])
    for n in range(5):
        create(dynamodb, f"hub-{n}", (f"c{n}.example.edu", f"binder.c{n}.example.edu"))
    seen, start = [], None
    while True:
        page, start = hub_records.scan(dynamodb, TABLE, 2, start=start)
        assert len(page) <= 2 and all(hub_records.HUB_ID.fullmatch(h["hub_id"]) for h in page)
        seen += [h["hub_id"] for h in page]
        if start is None:
            break
    assert sorted(seen) == [f"hub-{n}" for n in range(5)]
    assert hub_records.scan(dynamodb, TABLE, 10, status="PROVISIONING")[0].__len__() == 5
