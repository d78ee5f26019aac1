"""The EventBridge rules of the merge template (``statemachine/template.json``), for CloudFormation and the stack.

The template is the one definition: ``packaging`` merges it as it is (only naming the
rules), the local stack's seed creates the same rules with its ARNs in place of the
template's ``Ref`` and ``Fn::GetAtt`` (``resolve``), so the two cannot drift apart.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from coursehub.statemachines import STATEMACHINE_DIR


def template() -> dict:
    return json.loads((STATEMACHINE_DIR / "template.json").read_text())


def rules(base: dict | None = None) -> dict[str, dict]:
    """Logical id -> properties of every ``AWS::Events::Rule`` in the template."""
    resources = (base or template())["Resources"]
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::Events::Rule"}


def permissions(base: dict | None = None) -> dict[str, dict]:
    """Logical id -> properties of every ``AWS::Lambda::Permission`` in the template."""
    resources = (base or template())["Resources"]
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::Lambda::Permission"}


def deployed_name(logical_id: str, app_name: str, stage: str) -> str:
    """A rule's name: ``ExecutionEndRule`` -> ``coursehub-dev-ExecutionEndRule``."""
    return f"{app_name}-{stage}-{logical_id}"


def resolve(value: Any, refs: Mapping[str, str]) -> Any:
    """``value`` with each ``{"Ref": id}`` and ``{"Fn::GetAtt": [id, "Arn"]}`` replaced by ``refs[id]``."""
    if isinstance(value, list):
        return [resolve(item, refs) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return _lookup(value["Ref"], refs)
    if set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][1] == "Arn":
        return _lookup(value["Fn::GetAtt"][0], refs)
    return {key: resolve(item, refs) for key, item in value.items()}


def _lookup(logical_id: str, refs: Mapping[str, str]) -> str:
    try:
        return refs[logical_id]
    except KeyError:
        raise KeyError(f"the template refers to {logical_id}, which has no value here") from None
