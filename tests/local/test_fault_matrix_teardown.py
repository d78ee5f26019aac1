"""Fault matrix: a hub provisioned with every operation throttled at once, which still ends READY; then each
operation its teardown calls denied in turn (each run ends FAILED naming the step, with the cause on record and
on Slack; DELETE again goes on to the next one), and the last run retires the hub with nothing left behind
(tests/local/fault_matrix.py builds the cells)."""
import time
import uuid

import pytest

from coursehub.api_client import ApiClient
from tests.local import fault_matrix as matrix
from tests.local.test_provision_workflow import ecr_request

pytestmark = pytest.mark.fault_matrix  # make test-faults: a tier of its own (README)


def test_a_throttled_provisioning_then_the_teardown_denied_operation_by_operation(stack):
    api = ApiClient.local(stack.details())
    began = time.monotonic()
    provisioning, teardown = matrix.clean_life(stack, api, f"m{uuid.uuid4().hex[:6]}")
    print(f"clean hub life (the operations derived): {time.monotonic() - began:.1f} s")
    provision_ops, ops = matrix.operations(provisioning, "provision"), matrix.operations(teardown, "teardown")
    for workflow, derived in (("provision", provision_ops), ("teardown", ops)):
        assert matrix.known_operations()[workflow] <= set(derived) and len(derived) >= 15, derived
        for service, operation in derived:  # the stack's answers are what the functions take them for
            assert matrix.is_transient(service, operation, "throttled"), (service, operation)
            assert not matrix.is_transient(service, operation, "denied"), (service, operation)
    created_by, retired_by = matrix.api_operations(provisioning), matrix.api_operations(teardown)
    course = f"e{uuid.uuid4().hex[:6]}"
    hub_id, request = f"hub-{course}", ecr_request(stack, course)

    def create():
        if set(provision_ops) & created_by:  # the API's own calls would take some of the faults
            return matrix.start(stack, "provision", hub_id, request)
        answer = api.create(request)
        assert answer.status == 202, answer.body
        return answer.body["execution_arn"]

    throttled, described = matrix.throttled_run(stack, "provision", provision_ops, create)
    matrix.report("transient provisioning", throttled)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert matrix.record_of(stack, hub_id)["status"] == "READY"

    def launch(index, operation, cell):
        if operation in retired_by:  # the API's own call would take the fault: start the run itself
            return matrix.start(stack, "teardown", hub_id)
        return matrix.launched(stack, api, "DELETE", f"/hubs/{hub_id}", hub_id, cell)

    denied = matrix.denied_chain(stack, hub_id, "teardown", ops, launch)
    matrix.report("permanent teardown", denied)
    answer = api.retire(hub_id)
    assert answer.status == 202, answer.body
    described = matrix.run_end(stack, matrix.record_of(stack, hub_id)["execution_arn"])
    assert described["status"] == "SUCCEEDED", described.get("cause")
    matrix.assert_retired_clean(stack, hub_id)
    print(f"whole test: {time.monotonic() - began:.1f} s")

    assert (len(throttled), len(denied)) == (len(provision_ops), len(ops))
    assert [str(c) for c in throttled + denied if c.problems] == []
