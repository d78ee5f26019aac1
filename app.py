"""CourseHub: the Chalice app. It only wires: each handler parses, calls chalicelib, returns."""
from __future__ import annotations

import functools

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


@functools.cache
def aws(service: str):
    """One boto3 client per service; the endpoint comes from the standard AWS settings."""
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
