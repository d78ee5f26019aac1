"""The tags of the resource a tag-conditioned call acts on, read just before the call, for the policy check.

IAM allows these actions only on resources carrying certain tags (``aws:ResourceTag/...`` conditions in
``.chalice/policy-*.json``); moto does not evaluate IAM, so ``aws_calls`` records, for each of them, the tags the
resource had when a function acted on it, and ``coursehub/iam_policies.allowed_on`` judges them as IAM would.
"""
from __future__ import annotations

from typing import Any, Callable


def _tag_dict(tags: list[dict] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or []}


def _elb_tags(client: Any, params: dict) -> dict[str, str]:
    if "LoadBalancerName" in params:  # classic: elb
        described = client.describe_tags(LoadBalancerNames=[params["LoadBalancerName"]])
    else:  # elbv2: a load balancer or a target group
        arn = params.get("LoadBalancerArn") or params["TargetGroupArn"]
        described = client.describe_tags(ResourceArns=[arn])
    return _tag_dict(described["TagDescriptions"][0].get("Tags"))


def _group_tags(client: Any, params: dict) -> dict[str, str]:
    return _tag_dict(client.describe_security_groups(GroupIds=[params["GroupId"]])["SecurityGroups"][0].get("Tags"))


# IAM action -> how to read the tags of the resource its call names, with the calling client.
READERS: dict[str, Callable[[Any, dict], dict[str, str]]] = {
    "eks:DeleteCluster": lambda c, p: c.describe_cluster(name=p["name"])["cluster"].get("tags") or {},
    "elasticloadbalancing:DeleteLoadBalancer": _elb_tags,
    "elasticloadbalancing:DeleteTargetGroup": _elb_tags,
    "elasticloadbalancing:ConfigureHealthCheck": _elb_tags,
    "elasticloadbalancing:ModifyTargetGroup": _elb_tags,
    "ec2:DeleteVolume": lambda c, p: _tag_dict(c.describe_volumes(VolumeIds=[p["VolumeId"]])["Volumes"][0].get("Tags")),
    "ec2:DeleteSecurityGroup": _group_tags,
    "ec2:RevokeSecurityGroupIngress": _group_tags,
}


def read(client: Any, action: str, params: dict) -> dict[str, str] | None:
    """The tags of the resource ``params`` name, for an action in READERS; None if there is no reader or no resource."""
    reader = READERS.get(action)
    if reader is None:
        return None
    try:
        return reader(client, params)
    except Exception:  # gone already, or a fault injected for the test: the call itself will say so
        return None
