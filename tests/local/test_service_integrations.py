"""Step Functions service integrations on the stack speak each service's casing, as on AWS."""
import json
import uuid

from tests.conftest import eventually


def test_a_task_starts_another_state_machine_and_gets_its_answer_in_step_functions_casing(stack):
    sfn = stack.client("stepfunctions")
    target = stack.seeded.state_machines["smoke"]
    definition = {"StartAt": "Start it", "States": {"Start it": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
        "Parameters": {"StateMachineArn": target, "Input": {"run": "child"}}, "End": True}}}
    parent = sfn.create_state_machine(name=f"parent-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition),
                                      roleArn=stack.seeded.roles["states"])["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=parent, input="{}")["executionArn"]
    described = eventually(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    assert set(output) == {"ExecutionArn", "StartDate"} and output["ExecutionArn"].startswith(
        target.replace(":stateMachine:", ":execution:"))
    child = sfn.describe_execution(executionArn=output["ExecutionArn"])
    assert json.loads(child["input"]) == {"run": "child"}
