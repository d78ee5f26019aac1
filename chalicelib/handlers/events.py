"""The functions that post to Slack: the notifier the workflows call, the report of a run's end, and what the
hubs' schedules invoke directly: scaling (nightly and morning) and the ECR login's renewal."""
from __future__ import annotations

from aws_lambda_powertools import Logger
from chalice import Blueprint

from chalicelib import slack
from chalicelib.handlers import aws, now, settings

blueprint = Blueprint("app")  # handlers stay app.<name> (chalicelib/handlers/__init__.py says why)
logger = Logger()  # the app's logger: same service, same handler


@blueprint.lambda_function(name="notify_slack")
def notify_slack(event, context):
    """Post a message to the hub's Slack channel (the webhook URL stays in Secrets Manager)."""
    message = slack.message_from_event(event)
    slack.send(aws("secretsmanager"), slack.secret_arn_from_event(event, settings().slack_webhook_secret_arn),
               message["text"], message.get("blocks"), timeout=settings().slack_timeout_seconds)
    return {"posted": True}


@blueprint.lambda_function(name="report_execution_end")
def report_execution_end(event, context):
    """A workflow run that ended (stopped, timed out, crashed) without its own failure report: record it, say so."""
    from chalicelib import execution_reports
    result = execution_reports.report(aws("dynamodb"), settings(), event)
    message = result.pop("message", None)
    if message:
        slack.send(aws("secretsmanager"), message["slack_secret_arn"], message["text"], message["blocks"],
                   timeout=settings().slack_timeout_seconds)
    logger.info("execution end", extra=result)
    return result


@blueprint.lambda_function(name="scale_hub")
def scale_hub(event, context):
    """Scale the hub's node group down to zero or back up, record it and say so on Slack."""
    from chalicelib import scaling
    result = scaling.scale(aws("eks"), aws("stepfunctions"), aws("dynamodb"), settings(), event, now())
    slack.send(aws("secretsmanager"), result.pop("slack_secret_arn"), result.pop("text"), result.pop("blocks"),
               timeout=settings().slack_timeout_seconds)
    logger.info("scaling", extra=result)
    return result


@blueprint.lambda_function(name="renew_registry_login")
def renew_registry_login(event, context):
    """Renew an ECR hub's registry login in its cluster (its schedule calls this every 6 hours)."""
    from chalicelib import registry_login
    result = registry_login.renew(aws, settings(), event, now())
    if result.get("failed"):
        slack.send(aws("secretsmanager"), result.pop("slack_secret_arn"), result.pop("text"), result.pop("blocks"),
                   timeout=settings().slack_timeout_seconds)
        logger.warning("registry login not renewed", extra=result)
        raise registry_login.RegistryLoginNotRenewed(result["failed"])
    logger.info("registry login", extra=result)
    return result
