"""The failing state of a run, from its history as GetExecutionHistory gives it with reverseOrder (newest first)."""
from chalicelib import execution_history


def events(*spec):
    """History events from (id, previous id, type, state name or None), oldest first; returned newest first."""
    made = []
    for event_id, previous, kind, name in spec:
        event = {"id": event_id, "previousEventId": previous, "type": kind}
        if name:
            event["stateEnteredEventDetails"] = {"name": name}
        made.append(event)
    return made[::-1]


class History:
    def __init__(self, listed):
        self.listed, self.asked = listed, []

    def get_execution_history(self, **kwargs):
        self.asked.append(kwargs)
        return {"events": self.listed}


def test_a_failed_task_that_records_no_step_is_found_through_its_entered_event():
    history = History(events(
        (1, 0, "ExecutionStarted", None),
        (2, 1, "TaskStateEntered", "Record the hub"), (3, 2, "LambdaFunctionScheduled", None),
        (4, 3, "LambdaFunctionSucceeded", None), (5, 4, "TaskStateExited", None),
        (6, 5, "TaskStateEntered", "Announce the start on Slack"), (7, 6, "LambdaFunctionScheduled", None),
        (8, 7, "LambdaFunctionStarted", None), (9, 8, "LambdaFunctionFailed", None),
        (10, 9, "TaskStateEntered", "Record the failure"), (11, 10, "LambdaFunctionScheduled", None)))
    assert execution_history.failed_state(history, "arn:run", skip="Record the failure") == \
        "Announce the start on Slack"
    assert history.asked == [{"executionArn": "arn:run", "reverseOrder": True, "maxResults": 1000}]


def test_the_last_failure_wins_over_earlier_retried_ones_and_a_parallel_branch_is_named():
    history = History(events(
        (1, 0, "ExecutionStarted", None), (2, 1, "ParallelStateEntered", "Install the charts"),
        (3, 2, "TaskStateEntered", "Install cert-manager"), (4, 2, "TaskStateEntered", "Install the ingress controller"),
        (5, 3, "LambdaFunctionScheduled", None), (6, 4, "LambdaFunctionScheduled", None),
        (7, 5, "LambdaFunctionFailed", None),  # retried
        (8, 6, "LambdaFunctionSucceeded", None), (9, 8, "TaskStateExited", None),
        (10, 7, "LambdaFunctionScheduled", None), (11, 10, "LambdaFunctionFailed", None),
        (12, 11, "ParallelStateFailed", None), (13, 12, "TaskStateEntered", "Record the failure")))
    assert execution_history.failed_state(history, "arn:run", skip="Record the failure") == "Install cert-manager"


def test_without_a_failure_event_there_is_no_state():
    history = History(events((1, 0, "ExecutionStarted", None), (2, 1, "TaskStateEntered", "Record the failure")))
    assert execution_history.failed_state(history, "arn:run", skip="Record the failure") is None
