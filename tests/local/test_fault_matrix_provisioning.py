"""Fault matrix, provisioning's permanent cells: each operation provisioning calls is denied in turn on one hub;
each run ends FAILED naming the step, with the cause on record and on Slack; a retry through the API goes on to
the next one, the last run ends READY and the hub retires clean (tests/local/fault_matrix.py builds the cells)."""
import time
import uuid

from coursehub.api_client import ApiClient
from tests.local import fault_matrix as matrix
from tests.local.test_provision_workflow import hub_request


def test_each_operation_denied_in_turn_fails_provisioning_at_its_step_and_the_retry_goes_on(stack):
    api = ApiClient.local(stack.details())
    began = time.monotonic()
    provisioning, teardown = matrix.clean_life(stack, api, f"m{uuid.uuid4().hex[:6]}")
    print(f"clean hub life (the operations derived): {time.monotonic() - began:.1f} s")
    ops = matrix.operations(provisioning, "provision")
    assert matrix.known_operations()["provision"] <= set(ops) and len(ops) >= 15, ops
    created_by, retried_by = matrix.api_operations(provisioning), matrix.api_operations(teardown)
    course = f"d{uuid.uuid4().hex[:6]}"
    hub_id, request = f"hub-{course}", hub_request(stack, course)

    def launch(index, operation, cell):
        if index == 0 and operation not in created_by:
            return matrix.launched(stack, api, "POST", "/hubs", hub_id, cell, body=request)
        if index == 0 or operation in retried_by:  # the API's own call would take the fault: start the run itself
            return matrix.start(stack, "provision", hub_id, request)
        if matrix.record_of(stack, hub_id)["status"] != "FAILED":  # the last cell's run did not fail: go on anyway
            return matrix.start(stack, "provision", hub_id, request)
        return matrix.launched(stack, api, "POST", f"/hubs/{hub_id}/retry", hub_id, cell)

    cells = matrix.denied_chain(stack, hub_id, "provision", ops, launch)
    print(f"fault matrix: {len(cells)} permanent provisioning cells")
    for cell in cells:
        print(" ", cell)

    answer = api.retry(hub_id)
    assert answer.status == 202, answer.body
    described = matrix.run_end(stack, matrix.record_of(stack, hub_id)["execution_arn"])
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert matrix.record_of(stack, hub_id)["status"] == "READY"
    answer = api.retire(hub_id)
    assert answer.status == 202, answer.body
    described = matrix.run_end(stack, matrix.record_of(stack, hub_id)["execution_arn"])
    assert described["status"] == "SUCCEEDED", described.get("cause")
    matrix.assert_retired_clean(stack, hub_id)

    print(f"whole test: {time.monotonic() - began:.1f} s")
    assert len(cells) == len(ops)
    assert [str(c) for c in cells if c.problems] == []
