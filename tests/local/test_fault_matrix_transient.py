"""Fault matrix, transient cells: every operation of both workflows throttled at once, and the hub still becomes
READY, then RETIRED with nothing left behind (tests/local/fault_matrix.py builds the cells)."""
import time
import uuid

from coursehub.api_client import ApiClient
from tests.local import fault_matrix as matrix
from tests.local.test_provision_workflow import hub_request


def test_every_operation_throttled_ends_ready_then_retired_clean(stack):
    api = ApiClient.local(stack.details())
    began = time.monotonic()
    provisioning, teardown = matrix.clean_life(stack, api, f"m{uuid.uuid4().hex[:6]}")
    print(f"clean hub life (the operations derived): {time.monotonic() - began:.1f} s")
    ops = {"provision": matrix.operations(provisioning, "provision"),
           "teardown": matrix.operations(teardown, "teardown")}
    for workflow, known in matrix.known_operations().items():
        assert known <= set(ops[workflow]), known - set(ops[workflow])
        assert len(ops[workflow]) >= 15, ops[workflow]
        for service, operation in ops[workflow]:  # the stack's answers are what the functions take them for
            assert matrix.is_transient(service, operation, "throttled"), (service, operation)
            assert not matrix.is_transient(service, operation, "denied"), (service, operation)
    course = f"t{uuid.uuid4().hex[:6]}"
    hub_id = f"hub-{course}"

    throttled_from = time.monotonic()
    faults = matrix.throttled(stack, "provision", ops["provision"])
    try:
        if set(ops["provision"]) & matrix.api_operations(provisioning):
            arn = matrix.start(stack, "provision", hub_id, hub_request(stack, course))
        else:
            answer = api.create(hub_request(stack, course))
            assert answer.status == 202, answer.body
            arn = answer.body["execution_arn"]
        provisioned = matrix.run_end(stack, arn)
    finally:
        stack.faults.clear()
    cells = matrix.judge_throttled(faults)
    assert provisioned["status"] == "SUCCEEDED", provisioned.get("cause")
    past_the_client = [f for _, f in faults if f.times == matrix.CLIENT_ATTEMPTS]
    assert matrix.task_retries(stack, arn) >= len(past_the_client) > 0  # their Tasks' Retry answered them
    assert matrix.record_of(stack, hub_id)["status"] == "READY"

    faults = matrix.throttled(stack, "teardown", ops["teardown"])
    try:
        if set(ops["teardown"]) & matrix.api_operations(teardown):
            arn = matrix.start(stack, "teardown", hub_id)
        else:
            answer = api.retire(hub_id)
            assert answer.status == 202, answer.body
            arn = matrix.record_of(stack, hub_id)["execution_arn"]
        retired = matrix.run_end(stack, arn)
    finally:
        stack.faults.clear()
    cells += matrix.judge_throttled(faults)
    assert retired["status"] == "SUCCEEDED", retired.get("cause")
    past_the_client = [f for _, f in faults if f.times == matrix.CLIENT_ATTEMPTS]
    assert matrix.task_retries(stack, arn) >= len(past_the_client) > 0
    matrix.assert_retired_clean(stack, hub_id)

    print(f"throttled hub life: {time.monotonic() - throttled_from:.1f} s")
    assert len(cells) == len(ops["provision"]) + len(ops["teardown"])
    print(f"fault matrix: {len(cells)} transient cells ({len(ops['provision'])} provisioning, "
          f"{len(ops['teardown'])} teardown operations)")
    for cell in cells:
        print(" ", cell)
    assert [str(c) for c in cells if c.problems] == []
