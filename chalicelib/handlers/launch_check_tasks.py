"""The launch check's Tasks (statemachine/launch-check.asl.json): a test repository built, launched and run.

``chalicelib.launch_check`` pulls in pydantic (the request), so it is imported inside the handlers.
"""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.handlers import aws, now, settings

blueprint = Blueprint("app")  # handlers stay app.<name> (chalicelib/handlers/__init__.py says why)


@blueprint.lambda_function(name="start_test_build")
def start_test_build(event, context):
    """Record the check RUNNING and start the test repository's build through BinderHub's public API."""
    from chalicelib import launch_check
    return launch_check.start_build(aws("dynamodb"), settings(), event, now())


@blueprint.lambda_function(name="check_test_server")
def check_test_server(event, context):
    """LaunchNotReady while BinderHub builds or pushes the image; the server once it is ready."""
    from chalicelib import launch_check
    return launch_check.check_server(aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="start_test_kernel")
def start_test_kernel(event, context):
    """Start a kernel on the test server."""
    from chalicelib import launch_check
    return launch_check.start_kernel(aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="run_test_cell")
def run_test_cell(event, context):
    """KernelNotReady while the kernel starts; then send the test cell over the kernel's WebSocket."""
    from chalicelib import launch_check
    return launch_check.run_cell(aws("dynamodb"), settings(), event, now())


@blueprint.lambda_function(name="check_test_output")
def check_test_output(event, context):
    """CellNotFinished until the cell has run; then check its output."""
    from chalicelib import launch_check
    return launch_check.check_output(aws("dynamodb"), settings(), event, now())


@blueprint.lambda_function(name="stop_test_server")
def stop_test_server(event, context):
    """Shut the test server down and forget its token."""
    from chalicelib import launch_check
    return launch_check.stop_server(aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="record_launch_check")
def record_launch_check(event, context):
    """Record how the launch check ended on the hub; returns what Slack should say."""
    from chalicelib import launch_check
    return launch_check.record(aws("dynamodb"), settings(), event, now())
