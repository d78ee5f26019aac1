"""CourseHub: the Chalice app. It only wires: each handler parses, calls chalicelib, returns."""
from __future__ import annotations

import functools
import threading
from datetime import datetime, timezone

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import ClientError
from chalice import Chalice, IAMAuthorizer, Response

from chalicelib import aws_retry, slack
from chalicelib.settings import Settings

app = Chalice(app_name="coursehub", configure_logs=False)  # Powertools formats the "coursehub" logger
logger = Logger()  # service name and level come from POWERTOOLS_* variables


@functools.cache
def settings() -> Settings:
    """The settings, read once per container."""
    return Settings.from_env()


_client_lock = threading.Lock()
_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 3})  # longer waits: the state machines' Retry


@functools.cache
def aws(service: str):
    """One boto3 client per service; the endpoint comes from the standard AWS settings."""
    with _client_lock:  # boto3's default session is not safe to use from several threads at once
        return boto3.client(service, config=_RETRIES)


@app.middleware("all")
def log_context(event, get_response):
    """Add the function and request id to every log line."""
    context = getattr(event, "lambda_context", None) or getattr(event, "context", None)  # REST or pure Lambda
    if hasattr(context, "function_name"):
        logger.append_keys(function=context.function_name, request_id=context.aws_request_id)
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


@app.lambda_function(name="notify_slack")
def notify_slack(event, context):
    """Post a message to the hub's Slack channel (the webhook URL stays in Secrets Manager)."""
    message = slack.message_from_event(event)
    _post(message["text"], slack.secret_arn_from_event(event, settings().slack_webhook_secret_arn),
          message.get("blocks"))
    return {"posted": True}


def _post(text: str, secret_arn: str, blocks: list | None = None) -> None:
    message = {"text": text, **({"blocks": blocks} if blocks else {})}
    slack.post(slack.webhook_url(aws("secretsmanager"), secret_arn), message, timeout=settings().slack_timeout_seconds)
    logger.info("posted to Slack", extra={"chars": len(text)})


@app.lambda_function(name="report_execution_end")
def report_execution_end(event, context):
    """A workflow run that ended (stopped, timed out, crashed) without its own failure report: record it, say so."""
    from chalicelib import execution_reports
    result = execution_reports.report(aws("dynamodb"), settings(), event)
    message = result.pop("message", None)
    if message:
        _post(message["text"], message["slack_secret_arn"], message["blocks"])
    logger.info("execution end", extra=result)
    return result


# Provisioning Tasks (statemachine/provision.asl.json). chalicelib.provisioning pulls in pydantic and the
# helm runner, so it is imported inside the handlers: notify_slack's cold start does not pay for it.

@app.lambda_function(name="provision_start")
def provision_start(event, context):
    """Validate the request and record the hub as PROVISIONING."""
    from chalicelib import provisioning
    return provisioning.start(aws("dynamodb"), settings(), event)


@app.lambda_function(name="create_cluster")
def create_cluster(event, context):
    """Start creating the hub's EKS cluster (or reuse it)."""
    from chalicelib import provisioning
    return provisioning.create_cluster(aws("eks"), aws("dynamodb"), settings(), event)


@app.lambda_function(name="check_cluster")
def check_cluster(event, context):
    """ClusterNotReady until the cluster is ACTIVE."""
    from chalicelib import provisioning
    return provisioning.check_cluster(aws("eks"), aws("dynamodb"), settings(), event)


@app.lambda_function(name="create_nodegroup")
def create_nodegroup(event, context):
    """Give the Kubernetes role access, then start creating the node group."""
    from chalicelib import provisioning
    return provisioning.create_nodegroup(aws("eks"), aws("ec2"), aws("dynamodb"), settings(), event)


@app.lambda_function(name="check_nodegroup")
def check_nodegroup(event, context):
    """NodegroupNotReady until the node group is ACTIVE."""
    from chalicelib import provisioning
    return provisioning.check_nodegroup(aws("eks"), aws("dynamodb"), settings(), event)


@app.lambda_function(name="create_storage_addons")
def create_storage_addons(event, context):
    """Start creating the EBS CSI driver and Pod Identity add-ons and the driver's association."""
    from chalicelib import provisioning
    return provisioning.create_storage_addons(aws("eks"), aws("dynamodb"), settings(), event)


@app.lambda_function(name="check_storage_addons")
def check_storage_addons(event, context):
    """StorageAddonsNotReady until both add-ons are ACTIVE."""
    from chalicelib import provisioning
    return provisioning.check_storage_addons(aws("eks"), aws("dynamodb"), settings(), event)


@app.lambda_function(name="install_release")
def install_release(event, context):
    """helm upgrade --install one of the hub's releases (no --wait)."""
    from chalicelib import provisioning
    return provisioning.install_release(aws, aws("dynamodb"), settings(), event)


@app.lambda_function(name="configure_load_balancer")
def configure_load_balancer(event, context):
    """Find the ingress load balancer and fix its health check if needed."""
    from chalicelib import provisioning
    return provisioning.configure_load_balancer(aws, aws("dynamodb"), settings(), event)


@app.lambda_function(name="publish_dns")
def publish_dns(event, context):
    """UPSERT the hub's records, or say which to create."""
    from chalicelib import provisioning
    return provisioning.publish_dns(aws("route53"), aws("dynamodb"), settings(), event)


@app.lambda_function(name="check_dns")
def check_dns(event, context):
    """DnsNotResolving until the hub's names resolve to the load balancer."""
    from chalicelib import provisioning
    return provisioning.check_dns(aws("dynamodb"), settings(), event)


@app.lambda_function(name="check_certificates")
def check_certificates(event, context):
    """CertificatesNotReady until every certificate is issued."""
    from chalicelib import provisioning
    return provisioning.check_certificates(aws, aws("dynamodb"), settings(), event)


@app.lambda_function(name="verify_hub")
def verify_hub(event, context):
    """HubNotAnswering until BinderHub and JupyterHub answer 200 over verified HTTPS."""
    from chalicelib import provisioning
    return provisioning.verify_hub(aws("dynamodb"), settings(), event)


@app.lambda_function(name="provision_ready")
def provision_ready(event, context):
    """Record the hub READY."""
    from chalicelib import provisioning
    return provisioning.ready(aws("dynamodb"), settings(), event)


@app.lambda_function(name="schedule_lifecycle")
def schedule_lifecycle(event, context):
    """Create or replace the hub's schedules: teardown at the term end, the reminder, nightly scaling."""
    from chalicelib import provisioning
    return provisioning.schedule_lifecycle(aws("scheduler"), aws("dynamodb"), settings(), event, _now())


@app.lambda_function(name="record_failure")
def record_failure(event, context):
    """Record the hub FAILED with the failing step and cause (both workflows)."""
    from chalicelib import steps
    return steps.record_failure(aws("dynamodb"), settings(), event)


# The scaling function: the hub's nightly and morning schedules invoke it directly (no workflow needed).

@app.lambda_function(name="scale_hub")
def scale_hub(event, context):
    """Scale the hub's node group down to zero or back up, record it and say so on Slack."""
    from chalicelib import scaling
    result = scaling.scale(aws("eks"), aws("dynamodb"), settings(), event, _now())
    _post(result.pop("text"), result.pop("slack_secret_arn"), result.pop("blocks"))
    logger.info("scaling", extra=result)
    return result


# Teardown Tasks (statemachine/teardown.asl.json).

@app.lambda_function(name="teardown_start")
def teardown_start(event, context):
    """Record the hub as RETIRING and load its request."""
    from chalicelib import teardown
    return teardown.start(aws("dynamodb"), settings(), event)


@app.lambda_function(name="uninstall_releases")
def uninstall_releases(event, context):
    """helm uninstall the hub's releases and delete their namespaces."""
    from chalicelib import teardown
    return teardown.uninstall_releases(aws, aws("dynamodb"), settings(), event)


@app.lambda_function(name="check_released")
def check_released(event, context):
    """CloudResourcesRemain until the cluster's load balancers and volumes are gone from AWS."""
    from chalicelib import teardown
    return teardown.check_released(aws, aws("dynamodb"), settings(), event)


@app.lambda_function(name="delete_dns")
def delete_dns(event, context):
    """Delete the hub's DNS records."""
    from chalicelib import teardown
    return teardown.delete_dns(aws("route53"), aws("dynamodb"), settings(), event)


@app.lambda_function(name="delete_nodegroup")
def delete_nodegroup(event, context):
    """Start deleting the hub's node group."""
    from chalicelib import teardown
    return teardown.delete_nodegroup(aws("eks"), aws("dynamodb"), settings(), event)


@app.lambda_function(name="check_nodegroup_deleted")
def check_nodegroup_deleted(event, context):
    """NodegroupStillExists until the node group is gone."""
    from chalicelib import teardown
    return teardown.check_nodegroup_deleted(aws("eks"), aws("dynamodb"), settings(), event)


@app.lambda_function(name="delete_cluster")
def delete_cluster(event, context):
    """Start deleting the hub's EKS cluster."""
    from chalicelib import teardown
    return teardown.delete_cluster(aws("eks"), aws("dynamodb"), settings(), event)


@app.lambda_function(name="check_cluster_deleted")
def check_cluster_deleted(event, context):
    """ClusterStillExists until the cluster is gone."""
    from chalicelib import teardown
    return teardown.check_cluster_deleted(aws("eks"), aws("dynamodb"), settings(), event)


@app.lambda_function(name="delete_schedules")
def delete_schedules(event, context):
    """Delete the hub's schedules."""
    from chalicelib import teardown
    return teardown.delete_schedules(aws("scheduler"), aws("dynamodb"), settings(), event)


@app.lambda_function(name="audit_hub")
def audit_hub(event, context):
    """Find, clean and report anything still tagged for the hub."""
    from chalicelib import teardown
    return teardown.audit_hub(aws, aws("dynamodb"), settings(), event)


@app.lambda_function(name="teardown_retired")
def teardown_retired(event, context):
    """Record the hub RETIRED with the audit."""
    from chalicelib import teardown
    return teardown.retired(aws("dynamodb"), settings(), event)


# The REST API: every route behind IAM (callers sign with SigV4); chalicelib.hub_api does the work.

iam = IAMAuthorizer()


@app.route("/hubs", methods=["POST"], authorizer=iam)
def create_hub():
    """Provision a course hub (202), or return the course's live hub (200)."""
    request = app.current_request
    return _answer(lambda api: api.create(aws, settings(), api.json_object(request.raw_body),
                                          api.idempotency_key(request.headers.get("idempotency-key")), _caller(),
                                          app.lambda_context))


@app.route("/hubs", methods=["GET"], authorizer=iam)
def list_hubs():
    """A page of hubs, optionally with one status."""
    return _answer(lambda api: api.list_hubs(aws, settings(), dict(app.current_request.query_params or {})))


@app.route("/hubs/{hub_id}", methods=["GET"], authorizer=iam)
def get_hub(hub_id):
    """A hub's status, steps, URLs, scale, schedules and last error."""
    return _answer(lambda api: api.get(aws, settings(), api.hub_id(hub_id)))


@app.route("/hubs/{hub_id}", methods=["PATCH"], authorizer=iam)
def update_hub(hub_id):
    """Change the term end, the scaling window, node sizes or the reminder; the schedules follow."""
    return _answer(lambda api: api.update(aws, settings(), api.hub_id(hub_id),
                                          api.json_object(app.current_request.raw_body), _now()))


@app.route("/hubs/{hub_id}", methods=["DELETE"], authorizer=iam)
def retire_hub(hub_id):
    """Start the teardown (202), or return the one running."""
    return _answer(lambda api: api.retire(aws, settings(), api.hub_id(hub_id), _caller()))


@app.route("/hubs/{hub_id}/retry", methods=["POST"], authorizer=iam)
def retry_hub(hub_id):
    """Start a FAILED hub's workflow again."""
    return _answer(lambda api: api.retry(aws, settings(), api.hub_id(hub_id), _caller()))


@app.middleware("http")
def api_error_shape(event, get_response):
    """Chalice's own errors (unsupported media type, method not allowed, ...) in the API's error shape."""
    from chalicelib import hub_api
    return hub_api.reshape(get_response(event))


def _answer(work) -> Response:
    from chalicelib import hub_api
    try:
        status, body = work(hub_api)
    except hub_api.ApiError as error:
        logger.info("request refused", extra={"code": error.code, "field": error.field, "status": error.status})
        return Response(error.body(), status_code=error.status)
    headers = {"Location": f"/hubs/{body['hub_id']}"} if status == 202 else {}
    return Response(body, status_code=status, headers=headers)


def _caller() -> str:
    """Who signed the request: API Gateway puts the IAM identity it verified into the request context."""
    identity = (app.current_request.context or {}).get("identity") or {}
    return identity.get("userArn") or identity.get("caller") or "unknown"


def _now() -> datetime:
    return datetime.now(timezone.utc)
