"""State machine sources, the definitions built from them, and their ``${Placeholder}`` substitution.

The ASL files keep what reads as the runbook; ``definition`` adds the Retry and
Catch every Task shares (``task_errors``) and is the one definition both
CloudFormation and the local stack deploy. The ARNs in it are placeholders.
CloudFormation fills them through the state machine's
``DefinitionSubstitutions``; the local stack fills them with ``render``. Both
build the placeholder map with ``substitutions``, so a placeholder resolves to
the same function on both.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from chalice.utils import to_cfn_resource_name

from coursehub import task_errors

ROOT = Path(__file__).resolve().parent.parent
STATEMACHINE_DIR = ROOT / "statemachine"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


class PlaceholderError(ValueError):
    """A placeholder has no value, or a value has no placeholder."""


@dataclass(frozen=True)
class StateMachineSource:
    """One ``<name>.asl.json`` file."""

    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text()

    @property
    def logical_id(self) -> str:
        """Its CloudFormation logical id, e.g. ``ProvisionStateMachine``."""
        return to_cfn_resource_name(self.name) + "StateMachine"

    def deployed_name(self, app_name: str, stage: str) -> str:
        return f"{app_name}-{stage}-{self.name}"


def sources(directory: Path = STATEMACHINE_DIR) -> list[StateMachineSource]:
    """Every state machine definition in ``directory``."""
    return [StateMachineSource(p.name.removesuffix(".asl.json"), p)
            for p in sorted(directory.glob("*.asl.json"))]


def definition(source: StateMachineSource) -> dict:
    """The complete definition of ``source``: its ASL with the shared Retry and Catch added to its Tasks."""
    asl = json.loads(source.text)
    _add_shared_handling(asl["States"], catch=task_errors.FAILURE_STATE in asl["States"])
    return asl


def rendered(source: StateMachineSource, values: Mapping[str, str]) -> str:
    """The definition of ``source`` with its placeholders filled, as the local stack deploys it."""
    return render(json.dumps(definition(source)), values)


def placeholders(text: str) -> list[str]:
    """Placeholder names in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def function_placeholder(function_name: str) -> str:
    """``notify_slack`` -> ``NotifySlackArn`` (Chalice's logical id + ``Arn``)."""
    return to_cfn_resource_name(function_name) + "Arn"


def state_machine_placeholder(name: str) -> str:
    """``teardown`` -> ``TeardownStateMachineArn``: how one state machine names another (e.g. to start it)."""
    return to_cfn_resource_name(name) + "StateMachineArn"


def substitutions(text: str, functions: Mapping[str, Any], others: Mapping[str, Any] | None = None) -> dict:
    """The value of each placeholder in ``text``: function ARNs by Chalice name, then ``others``."""
    by_placeholder = {function_placeholder(name): value for name, value in functions.items()}
    by_placeholder.update(others or {})
    used = placeholders(text)
    missing = [name for name in used if name not in by_placeholder]
    if missing:
        raise PlaceholderError(f"no value for placeholder(s): {', '.join(missing)}")
    return {name: by_placeholder[name] for name in used}


def render(text: str, values: Mapping[str, str]) -> str:
    """Fill placeholders the way Step Functions' DefinitionSubstitutions does."""
    def fill(match: re.Match) -> str:
        try:
            return str(values[match.group(1)])
        except KeyError:
            raise PlaceholderError(f"no value for placeholder {match.group(1)}") from None
    filled = PLACEHOLDER.sub(fill, text)
    json.loads(filled)  # still valid JSON
    return filled


def lambda_placeholder(state: dict) -> str | None:
    """The placeholder naming the function a Task state calls (``NotifySlackArn``), else None."""
    if state.get("Type") != "Task":
        return None
    resource = state["Resource"]
    if resource.startswith("arn:aws:states:::lambda:invoke"):
        resource = state.get("Parameters", {}).get("FunctionName", "")
    match = PLACEHOLDER.fullmatch(resource)
    return match.group(1) if match else None


_TRANSITIONS = ("Next", "End")  # Retry and Catch go before these, where a reader of the rendering looks for them


def _add_shared_handling(states: dict, *, catch: bool) -> None:
    functions = {function_placeholder(name): name for name in task_errors.TRANSIENT_ERRORS}
    for name, state in states.items():
        added = {}
        placeholder = lambda_placeholder(state)
        if placeholder:
            function = functions.get(placeholder)  # None for a function not in the table: Lambda's errors only
            own = {error for retrier in state.get("Retry", []) for error in retrier["ErrorEquals"]}
            errors = [e for e in task_errors.transient_errors(function) if e not in own]
            added["Retry"] = [*state.get("Retry", []), {"ErrorEquals": errors, **task_errors.TRANSIENT_RETRY}]
        elif state.get("Type") == "Task" and state["Resource"].startswith(task_errors.START_EXECUTION):
            added["Retry"] = [*state.get("Retry", []), {"ErrorEquals": list(task_errors.START_EXECUTION_ERRORS),
                                                        **task_errors.TRANSIENT_RETRY}]
        if catch and state["Type"] in ("Task", "Parallel", "Map") and "Catch" not in state:
            added["Catch"] = [copy.deepcopy(task_errors.CATCH_ALL)]
        for branch in state.get("Branches", []):
            _add_shared_handling(branch["States"], catch=False)  # the Parallel state catches for its branches
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            _add_shared_handling(processor["States"], catch=False)
        if added:
            rest = {key: value for key, value in state.items() if key not in _TRANSITIONS and key not in added}
            states[name] = {**rest, **added, **{key: state[key] for key in _TRANSITIONS if key in state}}


def task_resources(definition: dict) -> Iterable[tuple[str, str]]:
    """(state name, function or state machine it calls) for every Task, in nested branches and Map processors too."""
    for name, state in definition.get("States", {}).items():
        if state.get("Type") == "Task":
            resource = state["Resource"]
            if resource.startswith("arn:aws:states:::lambda:invoke"):
                resource = state.get("Parameters", {}).get("FunctionName", resource)
            elif resource.startswith("arn:aws:states:::states:startExecution"):
                resource = state.get("Parameters", {}).get("StateMachineArn", resource)
            yield name, resource
        for branch in state.get("Branches", []):
            yield from task_resources(branch)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from task_resources(processor)


def dangling_transitions(definition: dict) -> list[str]:
    """Names a ``Next``/``Default``/``Choices``/``Catch``/``StartAt`` points to that do not exist."""
    states = definition.get("States", {})
    targets = [definition.get("StartAt")]
    problems = []
    for state in states.values():
        targets += [state.get("Next"), state.get("Default")]
        targets += [c.get("Next") for c in state.get("Choices", [])]
        targets += [c.get("Next") for c in state.get("Catch", [])]
        for nested in state.get("Branches", []) + [state.get("ItemProcessor") or state.get("Iterator") or {}]:
            if nested:
                problems += dangling_transitions(nested)
    problems += [t for t in targets if t is not None and t not in states]
    return problems
