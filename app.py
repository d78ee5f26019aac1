"""CourseHub: the Chalice app. It only wires: each handler parses, calls chalicelib, returns."""
from __future__ import annotations

import functools
import threading

import boto3
from aws_lambda_powertools import Logger
from chalice import Chalice

from chalicelib import slack
from chalicelib.settings import Settings

app = Chalice(app_name="coursehub")
logger = Logger()  # service name and level come from POWERTOOLS_* variables


@functools.cache
def settings() -> Settings:
    """The settings, read once per container."""
    return Settings.from_env()


_client_lock = threading.Lock()


@functools.cache
def aws(service: str):
    """One boto3 client per service; the endpoint comes from the standard AWS settings."""
    with _client_lock:  # boto3's default session is not safe to use from several threads at once
        return boto3.client(service)


@app.middleware("all")
def log_context(event, get_response):
    """Add the function and request id to every log line."""
    context = getattr(event, "context", None)
    if context is not None:
        logger.append_keys(function=context.function_name, request_id=context.aws_request_id)
    return get_response(event)


@app.lambda_function(name="notify_slack")
def notify_slack(event, context):
    """Post a message to the hub's Slack channel (the webhook URL stays in Secrets Manager)."""
    message = slack.message_from_event(event)
    secret_arn = slack.secret_arn_from_event(event, settings().slack_webhook_secret_arn)
    url = slack.webhook_url(aws("secretsmanager"), secret_arn)
    slack.post(url, message, timeout=settings().slack_timeout_seconds)
    logger.info("posted to Slack", extra={"chars": len(message["text"])})
    return {"posted": True}


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
    return provisioning.create_nodegroup(aws("eks"), aws("dynamodb"), settings(), event)


@app.lambda_function(name="check_nodegroup")
def check_nodegroup(event, context):
    """NodegroupNotReady until the node group is ACTIVE."""
    from chalicelib import provisioning
    return provisioning.check_nodegroup(aws("eks"), aws("dynamodb"), settings(), event)


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


@app.lambda_function(name="provision_failed")
def provision_failed(event, context):
    """Record the hub FAILED with the failing step and cause."""
    from chalicelib import provisioning
    return provisioning.failed(aws("dynamodb"), settings(), event)
