"""What ``coursehub deploy --dry-run`` prints: the stack a packaged template would create, read without AWS.

The template is read as packaged (before the SAM transform expands functions into
versions and permissions): the parameters with the values a deploy would pass,
every resource by type under its fixed name (conditional ones say whether the
parameters create them), and every function with the IAM actions its own role
grants and the statements on ``"Resource": "*"``.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Mapping

# Properties that hold a resource's fixed name, in the order they are looked for.
NAME_PROPERTIES = ("FunctionName", "RoleName", "TableName", "StateMachineName", "LogGroupName", "LayerName", "Name")


def describe(template: dict, given: Mapping[str, str], stack: str) -> str:
    """The dry run's report for ``template`` with the ``given`` parameters."""
    values = parameter_values(template, given)
    # Only the conditions resources depend on: others may need what a dry run does not know (the region).
    conditions = {name: evaluate(template["Conditions"][name], template, values)
                  for name in {r["Condition"] for r in template["Resources"].values() if "Condition" in r}}
    lines = [f"Stack {stack}: what a deploy would create (a dry run: nothing was sent to AWS)", "",
             "Parameters"]
    missing = []
    for key, spec in template["Parameters"].items():
        if key in given:
            lines.append(f"  {key:<24} {given[key] or '(empty)'}  (given)")
        elif "Default" in spec:
            lines.append(f"  {key:<24} {spec['Default'] if spec['Default'] != '' else '(empty)'}  (default)")
        else:
            missing.append(key)
            lines.append(f"  {key:<24} REQUIRED, not given")
    lines.append("  region                   the deploy's --region")
    by_type: dict[str, list[str]] = defaultdict(list)
    for logical_id, resource in template["Resources"].items():
        condition = resource.get("Condition")
        if condition and not conditions[condition]:
            continue
        by_type[resource["Type"]].append(f"    {logical_id:<40} {physical_name(resource)}")
    skipped = sorted(r for r, res in template["Resources"].items()
                     if res.get("Condition") and not conditions[res["Condition"]])
    lines += ["", f"Resources ({sum(map(len, by_type.values()))}, before the SAM transform)"]
    for kind in sorted(by_type):
        lines += [f"  {kind} ({len(by_type[kind])})", *by_type[kind]]
    if skipped:
        lines.append(f"  not created with these parameters: {', '.join(skipped)}")
    lines += ["", 'Functions: memory, timeout, IAM actions granted, statements on "Resource": "*"']
    for logical_id, resource in sorted(functions(template).items(), key=lambda f: f[1]["Properties"]["FunctionName"]):
        properties = resource["Properties"]
        statements = role_statements(template, logical_id)
        layer = "  + kubectl/helm layer" if properties.get("Layers") else ""
        lines.append(f"  {properties['FunctionName']:<40} {properties['MemorySize']:>5} MB {properties['Timeout']:>4} s"
                     f" {len(granted_actions(statements)):>3} actions{layer}")
        for statement in statements:
            if statement.get("Effect") == "Allow" and "*" in _listed(statement.get("Resource")):
                lines.append(f"      on *: {', '.join(_listed(statement.get('Action')))}")
    if missing:
        lines += ["", "A deploy needs " + ", ".join(f"--parameter {key}=..." for key in missing)]
    return "\n".join(lines)


def parameter_values(template: dict, given: Mapping[str, str]) -> dict[str, Any]:
    """Each parameter's value as CloudFormation would see it (a list for CommaDelimitedList)."""
    values: dict[str, Any] = {}
    for key, spec in template["Parameters"].items():
        value = str(given.get(key, spec.get("Default", "")))
        values[key] = value.split(",") if spec["Type"] == "CommaDelimitedList" else value
    return values


def evaluate(rule: Any, template: dict, values: Mapping[str, Any]) -> Any:
    """A condition (or a value inside one) from the parameter values: the functions Conditions allow."""
    if not isinstance(rule, dict):
        return rule
    (function, argument), = rule.items()
    if function == "Ref":
        return values[argument]
    if function == "Condition":
        return evaluate(template["Conditions"][argument], template, values)
    arguments = [evaluate(a, template, values) for a in argument] if isinstance(argument, list) else argument
    if function == "Fn::Equals":
        return arguments[0] == arguments[1]
    if function == "Fn::Not":
        return not arguments[0]
    if function == "Fn::And":
        return all(arguments)
    if function == "Fn::Or":
        return any(arguments)
    if function == "Fn::Join":
        return arguments[0].join(arguments[1])
    raise ValueError(f"cannot evaluate {function} without AWS")


def physical_name(resource: dict) -> str:
    """The name the template fixes for a resource, or what says it has none."""
    properties = resource.get("Properties", {})
    for key in NAME_PROPERTIES:
        if isinstance(properties.get(key), str):
            return properties[key]
    tags = properties.get("Tags")
    if isinstance(tags, list):
        named = [t["Value"] for t in tags if t.get("Key") == "Name"]
        if named:
            return f"{named[0]} (Name tag)"
    return "(named by CloudFormation)"


def functions(template: dict) -> dict[str, dict]:
    """Logical id -> resource of every function in the template."""
    return {name: r for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}


def role_statements(template: dict, function: str) -> list[dict]:
    """The statements of every inline policy of a function's role."""
    role = template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = template["Resources"][role]["Properties"].get("Policies", [])
    return [s for p in policies for s in _listed(p["PolicyDocument"]["Statement"])]


def granted_actions(statements: list[dict]) -> set[str]:
    """The distinct actions the Allow statements name (a wildcard action counts once)."""
    return {a for s in statements if s.get("Effect") == "Allow" for a in _listed(s.get("Action"))}


def _listed(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
