"""Run Lambda invokes in-process: each function name maps to a Chalice ``@app.lambda_function``.

moto without Docker answers every invoke by echoing the payload; the stack
replaces that (``moto_patches.dispatch_lambda_invokes``) with ``LambdaDispatcher.invoke``,
so Task states, ``lambda.invoke`` calls and schedule targets run the real
handlers. An exception becomes a function error whose ``errorType`` is the
exception's class name, which is what Step Functions' Retry/Catch match on AWS.
Lambda's own refusal of an Invoke (an injected ``lambda:Invoke`` fault, ``faults.py``)
is answered before the dispatcher runs anything, and a Task sees it as
``Lambda.<error code>`` (``moto_patches._lambda_service_errors_by_name``).
"""
from __future__ import annotations

import importlib
import json
import sys
import logging
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from chalice.local import LambdaContext

from coursehub_local import aws_calls

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeployedFunction:
    """One Chalice lambda function under its deployed name."""

    name: str  # deployed name: <app>-<stage>-<function>
    handler: Callable[[Any, Any], Any]
    app_name: str
    function: str  # the Chalice name of the function


def deployed_name(app_name: str, stage: str, function: str) -> str:
    """The Lambda function name ``chalice deploy``/``package`` gives a function."""
    return f"{app_name}-{stage}-{function}"


def functions_of(module_name: str, stage: str) -> list[DeployedFunction]:
    """Every ``@app.lambda_function`` of the Chalice app in ``module_name``, freshly loaded.

    A stack deploys the functions anew: like a new deployment on AWS, no container keeps state (cached
    settings, clients bound to an earlier stack's endpoint) from a stack that ran before in this process.
    """
    loaded = sys.modules.get(module_name)
    module = importlib.reload(loaded) if loaded else importlib.import_module(module_name)
    app = module.app
    found = []
    for config in app.pure_lambda_functions:
        attribute = config.handler_string.rsplit(".", 1)[-1]
        found.append(DeployedFunction(
            name=deployed_name(app.app_name, stage, config.name),
            handler=getattr(module, attribute),
            app_name=app.app_name,
            function=config.name,
        ))
    return found


class LambdaDispatcher:
    """Maps deployed function names to handlers and runs them like the Lambda runtime."""

    def __init__(self, functions: list[DeployedFunction]):
        self.functions = {f.name: f for f in functions}
        self.invocations: list[str] = []  # deployed names, in call order
        self._lock = threading.Lock()

    def invoke(self, name: str, payload: bytes | str | None, memory_mb: int, timeout_s: int,
               arn: str, response_headers: dict) -> bytes:
        """Run the function once; on an exception set the Lambda function-error header."""
        function = self.functions.get(name)
        if function is None:
            # The function exists in moto but has no handler here: a packaging mismatch.
            response_headers["x-amz-function-error"] = "Unhandled"
            return _error("Runtime.HandlerNotFound", f"no handler for {name}")
        with self._lock:
            self.invocations.append(name)
        try:
            event = json.loads(payload) if payload else {}
        except ValueError:
            response_headers["x-amz-function-error"] = "Unhandled"
            return _error("Runtime.UnmarshalError", "payload is not JSON")
        context = LambdaContext(name, memory_mb, max_runtime_ms=timeout_s * 1000)
        context.invoked_function_arn = arn
        try:
            with aws_calls.running(function.function):
                result = function.handler(event, context)
        except Exception as error:  # noqa: BLE001 - every error is reported, as the runtime does
            log.info("%s raised %s", name, type(error).__name__)
            response_headers["x-amz-function-error"] = "Unhandled"
            return _error(type(error).__name__, str(error),
                          traceback.format_exception(error)[-6:])
        try:
            return json.dumps(result).encode()
        except (TypeError, ValueError) as error:  # what the runtime answers for a result it cannot serialise
            response_headers["x-amz-function-error"] = "Unhandled"
            return _error("Runtime.MarshalError", f"Unable to marshal response: {error}")


def _error(error_type: str, message: str, trace: list[str] | None = None) -> bytes:
    body = {"errorType": error_type, "errorMessage": message}
    if trace:
        body["stackTrace"] = trace
    return json.dumps(body).encode()
