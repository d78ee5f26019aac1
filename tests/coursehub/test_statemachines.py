"""Every state machine is complete: placeholders filled, transitions valid, Tasks naming real functions."""
import json

import pytest

from coursehub import packaging, statemachines
from coursehub_local.dispatch import functions_of
from coursehub_local.stack import SMOKE_DIR

SOURCES = statemachines.sources() + statemachines.sources(SMOKE_DIR)


def known_functions():
    return {f.function for module in ("app", "coursehub_local.smoke.app") for f in functions_of(module, "dev")}


def test_there_is_something_to_check():
    assert SOURCES, "no state machine sources found"


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_every_placeholder_names_a_function_and_every_task_uses_one(source):
    functions = known_functions()
    arns = {name: f"arn:aws:lambda:us-east-1:123456789012:function:x-{name}" for name in functions}
    machines = {statemachines.state_machine_placeholder(s.name): f"arn:aws:states:us-east-1:123456789012:"
                f"stateMachine:x-{s.name}" for s in SOURCES}
    values = statemachines.substitutions(source.text, arns, {"HubTableName": "hubs", **machines})
    definition = json.loads(statemachines.rendered(source, values))
    for state, resource in statemachines.task_resources(definition):
        assert resource in [*arns.values(), *machines.values()], f"{source.name}: Task {state!r} calls {resource}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_every_transition_points_to_a_state(source):
    assert statemachines.dangling_transitions(statemachines.definition(source)) == []


def test_a_missing_placeholder_value_is_named():
    with pytest.raises(statemachines.PlaceholderError, match="NotifySlackArn"):
        statemachines.substitutions('{"Resource": "${NotifySlackArn}"}', {})


def test_dangling_transitions_are_found():
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}
    assert statemachines.dangling_transitions(definition) == ["B"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_cloudformation_deploys_the_definition_the_local_stack_runs(source):
    """The merge template's Definition, with its DefinitionSubstitutions resolved, is what the stack deploys."""
    functions = sorted(known_functions())
    template = packaging.merge_template("dev", functions, [source], {"HUB_TABLE_NAME": "hubs", "IDEMPOTENCY_TABLE_NAME": "keys"})
    resource = template["Resources"][source.logical_id]["Properties"]
    assert resource["Definition"] == statemachines.definition(source)
    # Resolve CloudFormation's GetAtt with the same ARN scheme the stack uses, then compare.
    arn = "arn:aws:lambda:us-east-1:123456789012:function:coursehub-dev-{}"
    by_logical = {packaging.to_cfn_resource_name(f): arn.format(f) for f in functions}
    account = {"${AWS::Partition}": "aws", "${AWS::Region}": "us-east-1", "${AWS::AccountId}": "123456789012"}

    def resolve(value):
        if "Fn::GetAtt" in value:
            return by_logical[value["Fn::GetAtt"][0]]
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            for name, replacement in account.items():
                text = text.replace(name, replacement)
            return text
        return "hubs"

    cfn_values = {key: resolve(value) for key, value in resource["DefinitionSubstitutions"].items()}
    machines = {statemachines.state_machine_placeholder(s.name): "arn:aws:states:us-east-1:123456789012:"
                f"stateMachine:coursehub-dev-{s.name}" for s in SOURCES}
    local_values = statemachines.substitutions(source.text, {f: arn.format(f) for f in functions},
                                               {"HubTableName": "hubs", **machines})
    assert cfn_values == local_values
    deployed = json.loads(statemachines.render(json.dumps(resource["Definition"]), cfn_values))
    assert deployed == json.loads(statemachines.rendered(source, local_values))
    assert not statemachines.placeholders(json.dumps(deployed))


@pytest.mark.parametrize("source", statemachines.sources(), ids=lambda s: s.name)
def test_every_slack_message_of_a_workflow_names_its_hub_step_outcome_and_execution(source):
    from chalicelib import slack_blocks

    states = json.loads(source.text)["States"]
    payloads = {name: state["Parameters"]["Payload"] for name, state in states.items()
                if state.get("Parameters", {}).get("FunctionName") == "${NotifySlackArn}"}
    assert payloads
    for name, payload in payloads.items():
        assert payload["hub_id.$"] == "$.hub_id" and payload["execution.$"] == "$$.Execution.Id", name
        assert payload["outcome"] in slack_blocks.OUTCOMES, name
        assert payload.get("step") in states or payload.get("step.$") == "$.failure.step", name
    failures = [p for n, p in payloads.items() if "failure" in n]
    assert failures and all(p["outcome"] == "failed" for p in failures)


def test_the_teardown_has_a_ready_node_before_it_uninstalls_and_asks_again_if_it_was_scaled_down():
    source = next(s for s in statemachines.sources() if s.name == "teardown")
    states = statemachines.definition(source)["States"]
    assert states["Announce the teardown on Slack"]["Next"] == "Bring back a node for the teardown"
    assert states["Bring back a node for the teardown"]["Next"] == "Check a node is ready"
    check = states["Check a node is ready"]
    assert check["Next"] == "Uninstall the releases"
    assert [(c["ErrorEquals"], c["Next"]) for c in check["Catch"]] == [
        (["NodegroupScaledDown"], "Bring back a node for the teardown"), (["States.ALL"], "Record the failure")]
    [waiting] = [r for r in check["Retry"] if r["ErrorEquals"] == ["NoReadyNode"]]
    assert waiting["MaxAttempts"] == check["Parameters"]["attempts"]  # the last retry goes on without a node
