"""The provisioning workflow's Tasks (statemachine/provision.asl.json), and the failure recorder both workflows use.

``chalicelib.provisioning`` pulls in pydantic and the helm runner, so it is
imported inside the handlers: functions that do not need it do not pay for it at
their cold start.
"""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.handlers import aws, now, settings

blueprint = Blueprint("app")  # handlers stay app.<name> (chalicelib/handlers/__init__.py says why)


@blueprint.lambda_function(name="provision_start")
def provision_start(event, context):
    """Validate the request and record the hub as PROVISIONING."""
    from chalicelib import provisioning
    return provisioning.start(aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="create_cluster")
def create_cluster(event, context):
    """Start creating the hub's EKS cluster (or reuse it)."""
    from chalicelib import provisioning
    return provisioning.create_cluster(aws("eks"), aws("ec2"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="check_cluster")
def check_cluster(event, context):
    """ClusterNotReady until the cluster is ACTIVE."""
    from chalicelib import provisioning
    return provisioning.check_cluster(aws("eks"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="create_nodegroup")
def create_nodegroup(event, context):
    """Give the Kubernetes role access, then start creating the node group."""
    from chalicelib import provisioning
    return provisioning.create_nodegroup(aws("eks"), aws("ec2"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="check_nodegroup")
def check_nodegroup(event, context):
    """NodegroupNotReady until the node group is ACTIVE."""
    from chalicelib import provisioning
    return provisioning.check_nodegroup(aws("eks"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="create_storage_addons")
def create_storage_addons(event, context):
    """Start creating the EBS CSI driver and Pod Identity add-ons and the driver's association."""
    from chalicelib import provisioning
    return provisioning.create_storage_addons(aws("eks"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="check_storage_addons")
def check_storage_addons(event, context):
    """StorageAddonsNotReady until both add-ons are ACTIVE."""
    from chalicelib import provisioning
    return provisioning.check_storage_addons(aws("eks"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="prepare_registry")
def prepare_registry(event, context):
    """ECR: the hub's repository creation template (repositories are created on push)."""
    from chalicelib import provisioning
    return provisioning.prepare_registry(aws("ecr"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="install_release")
def install_release(event, context):
    """helm upgrade --install one of the hub's releases (no --wait)."""
    from chalicelib import provisioning
    return provisioning.install_release(aws, aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="configure_load_balancer")
def configure_load_balancer(event, context):
    """Find the ingress load balancer and fix its health check if needed."""
    from chalicelib import provisioning
    return provisioning.configure_load_balancer(aws, aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="publish_dns")
def publish_dns(event, context):
    """UPSERT the hub's records, or say which to create."""
    from chalicelib import provisioning
    return provisioning.publish_dns(aws("route53"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="check_dns")
def check_dns(event, context):
    """DnsNotResolving until the hub's names resolve to the load balancer."""
    from chalicelib import provisioning
    return provisioning.check_dns(aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="check_certificates")
def check_certificates(event, context):
    """CertificatesNotReady until every certificate is issued."""
    from chalicelib import provisioning
    return provisioning.check_certificates(aws, aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="verify_hub")
def verify_hub(event, context):
    """HubNotAnswering until BinderHub and JupyterHub answer 200 over verified HTTPS."""
    from chalicelib import provisioning
    return provisioning.verify_hub(aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="provision_ready")
def provision_ready(event, context):
    """Record the hub READY."""
    from chalicelib import provisioning
    return provisioning.ready(aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="schedule_lifecycle")
def schedule_lifecycle(event, context):
    """Create or replace the hub's schedules: teardown at the term end, the reminder, nightly scaling."""
    from chalicelib import provisioning
    return provisioning.schedule_lifecycle(aws("scheduler"), aws("dynamodb"), settings(), event, now())


@blueprint.lambda_function(name="record_failure")
def record_failure(event, context):
    """Record the hub FAILED with the failing step and cause (both workflows)."""
    from chalicelib import steps
    return steps.record_failure(aws("dynamodb"), aws("stepfunctions"), settings(), event)
