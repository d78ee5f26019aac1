"""Fault matrix: provisioning's operations called before the chart installs, each denied in turn on one hub (each
run ends FAILED naming the step, with the cause on record and on Slack; a retry through the API goes on to the
next one; the last run ends READY), then that hub's teardown with every operation throttled at once, which still
retires it with nothing left behind (tests/local/fault_matrix.py builds the cells)."""
import time
import uuid

import pytest

from coursehub.api_client import ApiClient
from tests.local import fault_matrix as matrix
from tests.local.test_provision_workflow import ecr_request

pytestmark = pytest.mark.fault_matrix  # make test-faults: a tier of its own (README)


def test_provisioning_denied_operation_by_operation_until_the_charts_then_a_throttled_teardown(stack):
    api = ApiClient.local(stack.details())
    began = time.monotonic()
    provisioning, teardown = matrix.clean_life(stack, api, f"m{uuid.uuid4().hex[:6]}")
    print(f"clean hub life (the operations derived): {time.monotonic() - began:.1f} s")
    ops = matrix.operations(provisioning, "provision")
    assert matrix.known_operations()["provision"] <= set(ops) and len(ops) >= 15, ops
    before_charts, after_charts = matrix.split_at_charts(provisioning, ops)
    assert len(before_charts) >= 10 and after_charts, (before_charts, after_charts)
    created_by, retried_by = matrix.api_operations(provisioning), matrix.api_operations(teardown)
    course = f"d{uuid.uuid4().hex[:6]}"
    hub_id, request = f"hub-{course}", ecr_request(stack, course)

    def launch(index, operation, cell):
        if index == 0 and operation not in created_by:
            return matrix.launched(stack, api, "POST", "/hubs", hub_id, cell, body=request)
        if index == 0 or operation in retried_by:  # the API's own call would take the fault: start the run itself
            return matrix.start(stack, "provision", hub_id, request)
        if matrix.record_of(stack, hub_id)["status"] != "FAILED":  # the last cell's run did not fail: go on anyway
            return matrix.start(stack, "provision", hub_id, request)
        return matrix.launched(stack, api, "POST", f"/hubs/{hub_id}/retry", hub_id, cell)

    denied = matrix.denied_chain(stack, hub_id, "provision", before_charts, launch)
    matrix.report("permanent provisioning (before the charts)", denied)
    answer = api.retry(hub_id)
    assert answer.status == 202, answer.body
    described = matrix.run_end(stack, matrix.record_of(stack, hub_id)["execution_arn"])
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert matrix.record_of(stack, hub_id)["status"] == "READY"

    teardown_ops = matrix.operations(teardown, "teardown")
    assert matrix.known_operations()["teardown"] <= set(teardown_ops) and len(teardown_ops) >= 15, teardown_ops

    def retire():
        if set(teardown_ops) & retried_by:  # the API's own calls would take some of the faults
            return matrix.start(stack, "teardown", hub_id)
        assert api.retire(hub_id).status == 202
        return matrix.record_of(stack, hub_id)["execution_arn"]

    throttled, described = matrix.throttled_run(stack, "teardown", teardown_ops, retire)
    matrix.report("transient teardown", throttled)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    matrix.assert_retired_clean(stack, hub_id)
    print(f"whole test: {time.monotonic() - began:.1f} s")

    assert (len(denied), len(throttled)) == (len(before_charts), len(teardown_ops))
    assert [str(c) for c in denied + throttled if c.problems] == []
