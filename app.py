"""CourseHub: the Chalice app. It only wires: the middleware, the REST API's routes, and the Blueprints that hold
the Lambda functions (``chalicelib/handlers``). Each handler parses, calls chalicelib, returns."""
from __future__ import annotations

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from chalice import Chalice, IAMAuthorizer, Response
from chalice.app import Request

from chalicelib import aws_retry, handlers
from chalicelib.handlers import aws, events, launch_check_tasks, now, provisioning_tasks, settings, teardown_tasks

app = Chalice(app_name="coursehub", configure_logs=False)  # Powertools formats the "coursehub" logger
logger = Logger()  # service name and level come from POWERTOOLS_* variables
handlers.cold_start()  # this import starts a container: nothing cached is kept from an earlier one


@app.middleware("all")
def function_context(event, get_response):
    """Add the function and request id to every log line, and check the settings the function needs: one that is
    missing fails the invocation at once, naming the variable (SettingsError)."""
    context = getattr(event, "lambda_context", None) or getattr(event, "context", None)  # REST or pure Lambda
    deployed = getattr(context, "function_name", None)
    if deployed:
        logger.append_keys(function=deployed, request_id=context.aws_request_id)
    if isinstance(event, Request):
        settings().for_function("api_handler")
    elif deployed:
        settings().for_function(deployed.removeprefix(f"{app.app_name}-{settings().stage}-"))
    return get_response(event)


@app.middleware("pure_lambda")
def transient_aws_errors(event, get_response):
    """Throttling or a 5xx that botocore's retries did not get past becomes AwsTransientError, retried by name."""
    try:
        return get_response(event)
    except ClientError as error:
        transient = aws_retry.transient(error)
        if transient is None:
            raise
        logger.warning("AWS call failed transiently", extra={"cause": str(transient)})
        raise transient from error


@app.middleware("http")
def api_error_shape(event, get_response):
    """Chalice's own errors (unsupported media type, method not allowed, ...) in the API's error shape."""
    from chalicelib import api_errors
    return api_errors.reshape(get_response(event))


# The Lambda functions: the workflows' Tasks, Slack, scaling. Registered after the middleware, which they get.
app.register_blueprint(events.blueprint)
app.register_blueprint(provisioning_tasks.blueprint)
app.register_blueprint(teardown_tasks.blueprint)
app.register_blueprint(launch_check_tasks.blueprint)
# Lambda runs each as app.<name>: the Blueprints' import name is "app" (chalicelib/handlers/__init__.py says why).
from chalicelib.handlers.events import (  # noqa: E402,F401
    notify_slack, renew_registry_login, report_execution_end, scale_hub)
from chalicelib.handlers.provisioning_tasks import (  # noqa: E402,F401
    check_certificates, check_cluster, check_dns, check_nodegroup, check_storage_addons, configure_load_balancer,
    create_cluster, create_nodegroup, create_storage_addons, install_release, prepare_registry, provision_ready,
    provision_start, publish_dns, record_failure, schedule_lifecycle, verify_hub)
from chalicelib.handlers.teardown_tasks import (  # noqa: E402,F401
    audit_hub, check_cluster_deleted, check_node_ready, check_nodegroup_deleted, check_released, delete_cluster,
    delete_dns, delete_nodegroup, delete_registry, delete_schedules, teardown_retired, teardown_start,
    uninstall_releases, wake_nodegroup)
from chalicelib.handlers.launch_check_tasks import (  # noqa: E402,F401
    check_test_output, check_test_server, record_launch_check, run_test_cell, start_test_build, start_test_kernel,
    stop_test_server)


# The REST API: every route behind IAM (callers sign with SigV4); chalicelib.hub_api does the work, with what
# chalicelib.api_input read from the request.

iam = IAMAuthorizer()


@app.route("/hubs", methods=["POST"], authorizer=iam)
def create_hub():
    """Provision a course hub (202), or return the course's live hub (200)."""
    request = app.current_request
    return _answer(lambda api, read: api.create(aws, settings(), read.json_object(request.raw_body),
                                                read.idempotency_key(request.headers.get("idempotency-key")),
                                                _caller(), app.lambda_context))


@app.route("/hubs", methods=["GET"], authorizer=iam)
def list_hubs():
    """A page of hubs, optionally with one status."""
    return _answer(lambda api, read: api.list_hubs(aws, settings(), dict(app.current_request.query_params or {})))


@app.route("/hubs/{hub_id}", methods=["GET"], authorizer=iam)
def get_hub(hub_id):
    """A hub's status, steps, URLs, scale, schedules and last error."""
    return _answer(lambda api, read: api.get(aws, settings(), read.hub_id(hub_id)))


@app.route("/hubs/{hub_id}", methods=["PATCH"], authorizer=iam)
def update_hub(hub_id):
    """Change the term end, the scaling window, node sizes or the reminder; the schedules follow."""
    return _answer(lambda api, read: api.update(aws, settings(), read.hub_id(hub_id),
                                                read.json_object(app.current_request.raw_body), now()))


@app.route("/hubs/{hub_id}", methods=["DELETE"], authorizer=iam)
def retire_hub(hub_id):
    """Start the teardown (202), or return the one running."""
    return _answer(lambda api, read: api.retire(aws, settings(), read.hub_id(hub_id), _caller(), now()))


@app.route("/hubs/{hub_id}/retry", methods=["POST"], authorizer=iam)
def retry_hub(hub_id):
    """Start a FAILED hub's workflow again."""
    return _answer(lambda api, read: api.retry(aws, settings(), read.hub_id(hub_id), _caller(), now()))


@app.route("/hubs/{hub_id}/check", methods=["POST"], authorizer=iam)
def check_hub(hub_id):
    """Launch the hub's test repository as a student would (202); the result goes on the hub and to Slack."""
    return _answer(lambda api, read: api.check(aws, settings(), read.hub_id(hub_id), _caller(), now()))


def _answer(work) -> Response:
    """Run a route's work (pydantic and the request model load here, not at every function's cold start)."""
    from chalicelib import api_input, hub_api
    from chalicelib.api_errors import ApiError
    try:
        status, body = work(hub_api, api_input)
    except ApiError as error:
        logger.info("request refused", extra={"code": error.code, "field": error.field, "status": error.status})
        return Response(error.body(), status_code=error.status)
    headers = {"Location": f"/hubs/{body['hub_id']}"} if status == 202 else {}
    return Response(body, status_code=status, headers=headers)


def _caller() -> str:
    """Who signed the request: API Gateway puts the IAM identity it verified into the request context."""
    identity = (app.current_request.context or {}).get("identity") or {}
    return identity.get("userArn") or identity.get("caller") or "unknown"
