"""Fault matrix, teardown's permanent cells: each operation the teardown calls is denied in turn on one hub; each
run ends FAILED naming the step, with the cause on record and on Slack; DELETE again goes on to the next one, and
the last run retires the hub with nothing left behind (tests/local/fault_matrix.py builds the cells)."""
import time
import uuid

from coursehub.api_client import ApiClient
from tests.local import fault_matrix as matrix
from tests.local.test_provision_workflow import hub_request


def test_each_operation_denied_in_turn_fails_the_teardown_at_its_step_and_delete_goes_on(stack):
    api = ApiClient.local(stack.details())
    began = time.monotonic()
    course = f"e{uuid.uuid4().hex[:6]}"
    hub_id = f"hub-{course}"
    answer = api.create(hub_request(stack, course))  # provisioned meanwhile: the hub whose teardown is faulted
    assert answer.status == 202, answer.body
    _, teardown = matrix.clean_life(stack, api, f"m{uuid.uuid4().hex[:6]}")
    print(f"clean hub life (the operations derived): {time.monotonic() - began:.1f} s")
    ops = matrix.operations(teardown, "teardown")
    assert matrix.known_operations()["teardown"] <= set(ops) and len(ops) >= 15, ops
    retired_by = matrix.api_operations(teardown)
    described = matrix.run_end(stack, answer.body["execution_arn"])
    assert described["status"] == "SUCCEEDED", described.get("cause")

    def launch(index, operation, cell):
        if operation in retired_by:  # the API's own call would take the fault: start the run itself
            return matrix.start(stack, "teardown", hub_id)
        return matrix.launched(stack, api, "DELETE", f"/hubs/{hub_id}", hub_id, cell)

    cells = matrix.denied_chain(stack, hub_id, "teardown", ops, launch)
    print(f"fault matrix: {len(cells)} permanent teardown cells")
    for cell in cells:
        print(" ", cell)

    answer = api.retire(hub_id)
    assert answer.status == 202, answer.body
    described = matrix.run_end(stack, matrix.record_of(stack, hub_id)["execution_arn"])
    assert described["status"] == "SUCCEEDED", described.get("cause")
    matrix.assert_retired_clean(stack, hub_id)

    print(f"whole test: {time.monotonic() - began:.1f} s")
    assert len(cells) == len(ops)
    assert [str(c) for c in cells if c.problems] == []
