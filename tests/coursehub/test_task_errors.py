"""Each Task retries only errors its function can raise, and the ASL files leave the shared Retry and Catch to rendering.

What a function can raise is read from the code: from its handler in app.py or its Blueprints (chalicelib/handlers), every
function and class of app.py and chalicelib it names is followed (a class with all
its methods), and an error class it reaches is one it can raise. AwsTransientError
comes from app.py's middleware, for a handler that uses the AWS client getter.
"""
import ast
import json
from functools import cache

import pytest

from coursehub import packaging, statemachines, task_errors

ROOT = statemachines.ROOT
PRODUCT = statemachines.sources()
ERROR_BASE = "CourseHubError"


class Module:
    """One module of app.py or chalicelib: its top-level functions and classes, and the chalicelib names it imports."""

    def __init__(self, name: str):
        self.name = name
        path = ROOT / (name.replace(".", "/") + ".py")
        if not path.exists():  # a package
            path = ROOT / name.replace(".", "/") / "__init__.py"
        self.tree = ast.parse(path.read_text())
        self.defs = {node.name: node for node in self.tree.body
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        self.imports: dict[str, tuple[str, str | None]] = {}  # alias -> (module, name) or (module, None)
        for node in ast.walk(self.tree):  # imports inside functions count too (the handlers import lazily)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chalicelib"):
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    if (ROOT / (target.replace(".", "/") + ".py")).exists() \
                            or (ROOT / target.replace(".", "/") / "__init__.py").exists():
                        self.imports[alias.asname or alias.name] = (target, None)
                    else:
                        self.imports[alias.asname or alias.name] = (node.module, alias.name)

    def resolve(self, node: ast.AST) -> tuple[str, str] | None:
        """The (module, top-level name) a Name or ``module.attribute`` stands for, if it is in the project."""
        if isinstance(node, ast.Name):
            if node.id in self.defs:
                return self.name, node.id
            target = self.imports.get(node.id)
            return (target[0], target[1]) if target and target[1] else None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            target = self.imports.get(node.value.id)
            if target and target[1] is None:
                return target[0], node.attr
        return None


@cache
def module(name: str) -> Module:
    return Module(name)


def reachable(start: tuple[str, str]) -> set[tuple[str, str]]:
    """Every project function or class named along the call path from ``start``."""
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        source = module(name[0])
        definition = source.defs.get(name[1])
        if definition is None:
            continue
        for node in ast.walk(definition):
            target = source.resolve(node)
            if target and target not in seen and target[1] in module(target[0]).defs:
                todo.append(target)
    return seen


@cache
def error_classes() -> dict[str, tuple[str, str]]:
    """Name -> (module, name) of every CourseHubError subclass in chalicelib."""
    bases = {}
    for path in sorted((ROOT / "chalicelib").glob("*.py")):
        source = module("chalicelib." + path.stem)
        for name, node in source.defs.items():
            if isinstance(node, ast.ClassDef):
                bases[name] = ((source.name, name), [b.id if isinstance(b, ast.Name) else b.attr for b in node.bases])

    def is_error(name):
        return name == ERROR_BASE or (name in bases and any(is_error(b) for b in bases[name][1]))

    return {name: where for name, (where, _) in bases.items() if is_error(name)}


HANDLER_MODULES = ("app", *(f"chalicelib.handlers.{p.stem}" for p in sorted((ROOT / "chalicelib" / "handlers").glob("*.py"))
                            if p.stem != "__init__"))
AWS_GETTERS = {("app", "aws"), ("chalicelib.handlers", "aws")}  # where the handlers get their boto3 clients


@cache
def handlers() -> dict[str, tuple[str, ast.FunctionDef]]:
    """Chalice name -> (module, ``@<app or blueprint>.lambda_function`` handler) in app.py and its Blueprints."""
    found = {}
    for name in HANDLER_MODULES:
        for node in module(name).tree.body:
            for decorator in getattr(node, "decorator_list", []):
                if isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "lambda_function":
                    found[next(k.value.value for k in decorator.keywords if k.arg == "name")] = (name, node)
    return found


@cache
def raisable(function: str) -> frozenset[str]:
    """The project's error classes ``function`` can raise, as Step Functions names them."""
    where, handler = handlers()[function]
    reached = reachable((where, handler.name))
    errors = {name for name, where in error_classes().items() if where in reached}
    if reached & AWS_GETTERS:  # the AWS client getter: app.py's middleware names throttling and 5xx so
        errors.add(task_errors.AWS)
    return frozenset(errors)


def table_mismatches(table: dict[str, tuple[str, ...]]) -> list[str]:
    """What ``table`` claims about a function's transient errors that its code does not bear out, or misses."""
    transient = {task_errors.AWS, task_errors.KUBE, task_errors.SLACK}
    problems = []
    for function, errors in table.items():
        can = raisable(function) & transient
        problems += [f"{function} cannot raise {e}" for e in errors if e not in can]
        problems += [f"{function} can raise {e}, its Tasks do not retry it" for e in sorted(can - set(errors))]
    return problems


def lambda_tasks(states: dict):
    """(state name, state, Chalice function) for every Lambda Task, in Parallel branches and Map processors too."""
    functions = {statemachines.function_placeholder(f): f for f in handlers()}
    for name, state in states.items():
        placeholder = statemachines.lambda_placeholder(state)
        if placeholder:
            yield name, state, functions[placeholder]
        for nested in [*state.get("Branches", []), state.get("ItemProcessor") or state.get("Iterator") or {}]:
            yield from lambda_tasks(nested.get("States", {}))


def test_the_table_names_the_transient_errors_each_function_can_raise():
    assert table_mismatches(task_errors.TRANSIENT_ERRORS) == []


def test_a_table_naming_an_error_the_code_cannot_raise_is_found():
    claims = dict(task_errors.TRANSIENT_ERRORS, check_cluster=(task_errors.AWS, task_errors.KUBE),
                  install_release=(task_errors.AWS,), record_failure=(task_errors.AWS, task_errors.SLACK))
    assert sorted(table_mismatches(claims)) == ["check_cluster cannot raise KubeTransientError",
                                        "install_release can raise KubeTransientError, its Tasks do not retry it",
                                        "record_failure cannot raise SlackPostFailed"]


def test_the_table_covers_exactly_the_functions_the_workflows_call():
    called = {function for source in PRODUCT for _, _, function in lambda_tasks(json.loads(source.text)["States"])}
    assert set(task_errors.TRANSIENT_ERRORS) == called


def test_the_functions_retrying_kube_errors_are_those_given_cluster_access():
    """Those the workflows call; a scheduled one (the ECR login's renewal) is retried by the Scheduler instead."""
    assert {f for f, errors in task_errors.TRANSIENT_ERRORS.items() if task_errors.KUBE in errors} == set(
        packaging.KUBE_FUNCTIONS) - set(packaging.SCHEDULED_FUNCTIONS)


@pytest.mark.parametrize("source", PRODUCT, ids=lambda s: s.name)
def test_every_error_a_task_retries_is_one_its_function_can_raise(source):
    for name, state, function in lambda_tasks(statemachines.definition(source)["States"]):
        for retrier in state["Retry"]:
            named = [e for e in retrier["ErrorEquals"] if e not in task_errors.LAMBDA_SERVICE_ERRORS]
            assert set(named) <= raisable(function), f"{source.name}: {name!r} ({function}) retries {named}"


@pytest.mark.parametrize("source", PRODUCT, ids=lambda s: s.name)
def test_every_error_named_is_a_project_error_or_a_step_functions_one(source):
    def named(states):
        for state in states.values():
            for handler in [*state.get("Retry", []), *state.get("Catch", [])]:
                yield from handler["ErrorEquals"]
            for nested in [*state.get("Branches", []), state.get("ItemProcessor") or {}]:
                yield from named(nested.get("States", {}))

    errors = set(named(statemachines.definition(source)["States"]))
    assert errors
    assert {e for e in errors if not e.startswith(("States.", "Lambda.", "StepFunctions."))
            and e not in error_classes()} == set()
    assert {e for e in errors if e.startswith("Lambda.")} <= set(task_errors.LAMBDA_SERVICE_ERRORS)
    assert {e for e in errors if e.startswith("StepFunctions.")} <= set(task_errors.START_EXECUTION_ERRORS)


def test_a_task_starting_another_workflow_retries_the_start_being_throttled():
    (provision,) = [s for s in PRODUCT if s.name == "provision"]
    starts = {name: state for name, state in statemachines.definition(provision)["States"].items()
              if state["Type"] == "Task" and state["Resource"].startswith(task_errors.START_EXECUTION)}
    assert sorted(starts) == ["Launch a test repository", "Start the teardown"]
    for start in starts.values():
        assert start["Retry"] == [{"ErrorEquals": ["StepFunctions.ExecutionLimitExceeded"],
                                   **task_errors.TRANSIENT_RETRY}]
    (refused,) = starts["Start the teardown"]["Catch"]  # a start refused for good is announced, then the run fails
    announce = statemachines.definition(provision)["States"][refused["Next"]]
    assert "was not started" in announce["Parameters"]["Payload"]["text.$"]
    assert announce["Next"] == announce["Catch"][0]["Next"] == "Provisioning failed"


@pytest.mark.parametrize("source", PRODUCT, ids=lambda s: s.name)
def test_every_lambda_task_retries_lambdas_errors_and_its_functions_last(source):
    for name, state, function in lambda_tasks(statemachines.definition(source)["States"]):
        *own, shared = state["Retry"]
        assert shared == {"ErrorEquals": task_errors.transient_errors(function), **task_errors.TRANSIENT_RETRY}, name
        assert all("JitterStrategy" not in r for r in own), name


@pytest.mark.parametrize("source", PRODUCT, ids=lambda s: s.name)
def test_every_task_catches_into_the_failure_path_unless_it_has_its_own_catch(source):
    asl = json.loads(source.text)["States"]
    states = statemachines.definition(source)["States"]
    caught = [n for n, s in states.items() if s["Type"] in ("Task", "Parallel", "Map")]
    assert caught
    for name in caught:
        expected = asl[name].get("Catch") or [task_errors.CATCH_ALL]
        assert states[name]["Catch"] == expected, name
    own = {n: asl[n]["Catch"] for n in caught if "Catch" in asl[n]}
    assert task_errors.FAILURE_STATE in own  # the failure path itself cannot catch into itself
    assert all(c != [task_errors.CATCH_ALL] for c in own.values())


@pytest.mark.parametrize("source", PRODUCT, ids=lambda s: s.name)
def test_the_asl_files_leave_the_shared_retry_and_catch_to_rendering(source):
    def shared(states):
        for name, state in states.items():
            if any(r.get("JitterStrategy") or set(r["ErrorEquals"]) & set(task_errors.LAMBDA_SERVICE_ERRORS)
                   for r in state.get("Retry", [])) or state.get("Catch") == [task_errors.CATCH_ALL]:
                yield name
            for nested in [*state.get("Branches", []), state.get("ItemProcessor") or {}]:
                yield from shared(nested.get("States", {}))

    assert list(shared(json.loads(source.text)["States"])) == []


def test_a_task_of_a_function_not_in_the_table_retries_lambdas_errors_only(tmp_path):
    asl = {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${ElsewhereArn}", "End": True}}}
    (tmp_path / "x.asl.json").write_text(json.dumps(asl))
    (source,) = statemachines.sources(tmp_path)
    (retrier,) = statemachines.definition(source)["States"]["A"]["Retry"]
    assert retrier["ErrorEquals"] == list(task_errors.LAMBDA_SERVICE_ERRORS)
    assert "Catch" not in statemachines.definition(source)["States"]["A"]  # no failure path to catch into
