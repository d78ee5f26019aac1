"""The teardown workflow's Tasks (statemachine/teardown.asl.json)."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.handlers import aws, settings

blueprint = Blueprint("app")  # handlers stay app.<name> (chalicelib/handlers/__init__.py says why)


@blueprint.lambda_function(name="teardown_start")
def teardown_start(event, context):
    """Record the hub as RETIRING and load its request."""
    from chalicelib import teardown
    return teardown.start(aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="wake_nodegroup")
def wake_nodegroup(event, context):
    """Scale a node group left at 0 nodes to one, for the controllers that delete the hub's volume."""
    from chalicelib import teardown_nodes
    return teardown_nodes.wake(aws("eks"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="check_node_ready")
def check_node_ready(event, context):
    """NoReadyNode until a node of the hub's cluster is Ready."""
    from chalicelib import teardown_nodes
    return teardown_nodes.check(aws, aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="uninstall_releases")
def uninstall_releases(event, context):
    """helm uninstall the hub's releases and delete their namespaces."""
    from chalicelib import teardown
    return teardown.uninstall_releases(aws, aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="check_released")
def check_released(event, context):
    """CloudResourcesRemain until the cluster's load balancers and volumes are gone from AWS."""
    from chalicelib import teardown
    return teardown.check_released(aws, aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="delete_dns")
def delete_dns(event, context):
    """Delete the hub's DNS records."""
    from chalicelib import teardown
    return teardown.delete_dns(aws("route53"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="delete_nodegroup")
def delete_nodegroup(event, context):
    """Start deleting the hub's node group."""
    from chalicelib import teardown
    return teardown.delete_nodegroup(aws("eks"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="check_nodegroup_deleted")
def check_nodegroup_deleted(event, context):
    """NodegroupStillExists until the node group is gone."""
    from chalicelib import teardown
    return teardown.check_nodegroup_deleted(aws("eks"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="delete_cluster")
def delete_cluster(event, context):
    """Start deleting the hub's EKS cluster."""
    from chalicelib import teardown
    return teardown.delete_cluster(aws("eks"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="check_cluster_deleted")
def check_cluster_deleted(event, context):
    """ClusterStillExists until the cluster is gone."""
    from chalicelib import teardown
    return teardown.check_cluster_deleted(aws("eks"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="delete_schedules")
def delete_schedules(event, context):
    """Delete the hub's schedules."""
    from chalicelib import teardown
    return teardown.delete_schedules(aws("scheduler"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="delete_registry")
def delete_registry(event, context):
    """ECR: delete the hub's creation template and repositories (or keep the repositories, as asked)."""
    from chalicelib import teardown
    return teardown.delete_registry(aws("ecr"), aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="audit_hub")
def audit_hub(event, context):
    """Find, clean and report anything still tagged for the hub."""
    from chalicelib import teardown
    return teardown.audit_hub(aws, aws("dynamodb"), settings(), event)


@blueprint.lambda_function(name="teardown_retired")
def teardown_retired(event, context):
    """Record the hub RETIRED with the audit."""
    from chalicelib import teardown
    return teardown.retired(aws("dynamodb"), settings(), event)
