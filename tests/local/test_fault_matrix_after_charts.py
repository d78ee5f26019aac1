"""Fault matrix: provisioning's operations called after the chart installs, each denied in turn on a READY hub's
runs (each run ends FAILED naming the step, with the cause on record and on Slack; a retry through the API goes
on to the next one; after the last, DELETE retires the hub clean). Each of these runs installs the charts
again, so they have a file of their own (tests/local/fault_matrix.py builds the cells)."""
import time
import uuid

import pytest

from coursehub.api_client import ApiClient
from coursehub_local import aws_calls
from tests.local import fault_matrix as matrix
from tests.local.test_provision_workflow import ecr_request

pytestmark = pytest.mark.fault_matrix  # make test-faults: a tier of its own (README)


def test_provisioning_denied_operation_by_operation_after_the_charts(stack):
    api = ApiClient.local(stack.details())
    began = time.monotonic()
    course = f"c{uuid.uuid4().hex[:6]}"
    hub_id, request = f"hub-{course}", ecr_request(stack, course)
    with aws_calls.watching() as provisioning:
        answer = api.create(request)
        assert answer.status == 202, answer.body
        described = matrix.run_end(stack, answer.body["execution_arn"])
    assert described["status"] == "SUCCEEDED", described.get("cause")
    print(f"clean provisioning (the operations derived): {time.monotonic() - began:.1f} s")
    ops = matrix.operations(provisioning, "provision")
    assert matrix.known_operations()["provision"] <= set(ops) and len(ops) >= 15, ops
    before_charts, after_charts = matrix.split_at_charts(provisioning, ops)
    assert len(after_charts) >= 3 and len(before_charts) + len(after_charts) == len(ops), after_charts
    created_by = matrix.api_operations(provisioning)

    def launch(index, operation, cell):
        if index == 0 or operation in created_by:  # a READY hub is not retried through the API: run it again
            return matrix.start(stack, "provision", hub_id, request)
        return matrix.launched(stack, api, "POST", f"/hubs/{hub_id}/retry", hub_id, cell)

    denied = matrix.denied_chain(stack, hub_id, "provision", after_charts, launch)
    matrix.report("permanent provisioning (after the charts)", denied)
    # FAILED at the last cell, it is retired from there: test_fault_matrix_provisioning.py shows a retry reaching
    # READY, which here would install the charts once more.
    assert api.retire(hub_id).status == 202
    described = matrix.run_end(stack, matrix.record_of(stack, hub_id)["execution_arn"])
    assert described["status"] == "SUCCEEDED", described.get("cause")
    matrix.assert_retired_clean(stack, hub_id)
    print(f"whole test: {time.monotonic() - began:.1f} s")

    assert len(denied) == len(after_charts)
    assert [str(c) for c in denied if c.problems] == []
