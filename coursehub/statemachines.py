"""State machine sources and their ``${Placeholder}`` substitution.

The ASL files keep ARNs as placeholders. CloudFormation fills them through the
state machine's ``DefinitionSubstitutions``; the local stack fills them with
``render``. Both build the placeholder map with ``substitutions``, so a
placeholder resolves to the same function on both.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from chalice.utils import to_cfn_resource_name

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
    rendered = PLACEHOLDER.sub(fill, text)
    json.loads(rendered)  # still valid JSON
    return rendered


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
