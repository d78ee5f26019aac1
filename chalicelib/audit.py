"""After a teardown: find what is still tagged for the hub's cluster or named for the hub, clean it, report each by id.

The Kubernetes cloud provider deletes a Service's load balancer and a PVC's
volume only while the cluster runs; what it missed is found by the tags it
wrote (``kubernetes.io/cluster/<cluster>``) and deleted in the order AWS
allows: load balancers free their target groups, detached interfaces and
revoked rules free security groups. EKS clusters and node groups are only
reported: deleting them takes minutes and is the teardown's own step.

The audit sees only its own stage: a cluster counts when it is tagged with the
stage, and a resource is deleted only when it carries the stage's tag (the
cluster's controllers put the hub's tags on what they make, hub_names.py) or,
for EKS's cluster security group, the tag naming one of the stage's clusters
(``aws:eks:cluster-name``): what its IAM policy allows
(.chalice/policy-audit-hub.json). Anything else is reported, with why it stays.

An ECR hub's repository creation template and repositories are found by their names, under the hub's prefix
(``image_registry.repository_prefix``, which names the stage); repositories kept on purpose
(``archive_images``) are not looked for.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, Callable, Iterator, Sequence

from botocore.exceptions import ClientError

from chalicelib import hub_names, hub_schedules, image_registry
from chalicelib.aws_retry import transient
from chalicelib.hub_names import HUB_TAG, STAGE_TAG

KINDS = ("eks_clusters", "eks_nodegroups", "classic_load_balancers", "load_balancers", "target_groups",
         "volumes", "security_groups", "network_interfaces", "dns_records", "schedules", "ecr_templates",
         "ecr_repositories")
CLUSTER_TAG = "kubernetes.io/cluster/"
STILL_EXISTS = "still exists; start the teardown again"
REPORT_ONLY = "not cleaned (report only)"
TAGS_PER_CALL = 20  # the limit of elb and elbv2 DescribeTags
# What the audit's IAM policy lets it delete only with its stage's tags (DNS records and schedules are scoped by
# zone and schedule group instead; network interfaces are not: EKS's own carry no tag, .chalice/policy-audit-hub.json).
STAGE_SCOPED = ("classic_load_balancers", "load_balancers", "target_groups", "volumes", "security_groups")
Clients = Callable[[str], Any]

# How each kind is deleted, in the order AWS lets them go. EKS clusters and node groups are not deleted here.
_DELETE: dict[str, Callable[[Clients, str, dict], Any]] = {
    "classic_load_balancers": lambda c, name, _: c("elb").delete_load_balancer(LoadBalancerName=name),
    "load_balancers": lambda c, arn, _: c("elbv2").delete_load_balancer(LoadBalancerArn=arn),
    "target_groups": lambda c, arn, _: c("elbv2").delete_target_group(TargetGroupArn=arn),
    "network_interfaces": lambda c, eni, _: c("ec2").delete_network_interface(NetworkInterfaceId=eni),
    "volumes": lambda c, volume, _: c("ec2").delete_volume(VolumeId=volume),
    "security_groups": lambda c, group, _: c("ec2").delete_security_group(GroupId=group),
    "dns_records": lambda c, _, item: c("route53").change_resource_record_sets(
        HostedZoneId=item["HostedZoneId"],
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": item["ResourceRecordSet"]}]}),
    "schedules": lambda c, name, item: c("scheduler").delete_schedule(Name=name, GroupName=item["GroupName"]),
    "ecr_templates": lambda c, prefix, _: c("ecr").delete_repository_creation_template(prefix=prefix),
    "ecr_repositories": lambda c, name, _: c("ecr").delete_repository(repositoryName=name, force=True),
}


def audit(clients: Clients, *, cluster: str, hub_id: str, stage: str, hosts: list[str], zone_id: str | None,
          schedule_group: str, registry_prefix: str = "", keep_images: bool = False, clean: bool = True) -> dict:
    """Find what the hub left behind and delete it unless ``clean`` is False; report found/cleaned/remaining ids.

    ``registry_prefix``: an ECR hub's repository prefix ("" for a DockerHub hub: nothing of it is in ECR).
    """
    with _transient_errors_named():
        search = _Search(clients, cluster, hub_id, hosts, zone_id, schedule_group, stage, registry_prefix,
                         keep_images)
        found = {kind: getattr(search, kind) for kind in KINDS}
        outcome = {kind: _clean(clients, kind, found[kind], cluster, stage) if clean
                   else [(item_id, REPORT_ONLY) for item_id in found[kind]]
                   for kind in (*_DELETE, "eks_clusters", "eks_nodegroups")}
    result = {"clean": not any(reason for pairs in outcome.values() for _, reason in pairs),
              "found": {kind: list(found[kind]) for kind in KINDS},
              "cleaned": {kind: [item_id for item_id, reason in outcome[kind] if reason is None] for kind in KINDS},
              "remaining": {kind: [{"id": item_id, "reason": reason} for item_id, reason in outcome[kind] if reason]
                            for kind in KINDS}}
    return {**result, "summary": format_summary(result)}


def find(clients: Clients, *, cluster: str, hub_id: str = "", hosts: Sequence[str] = (), zone_id: str | None = None,
         schedule_group: str = "", stage: str = "", registry_prefix: str = "", keep_images: bool = False,
         kinds: Sequence[str] = KINDS) -> dict[str, list[str]]:
    """Ids of what is still there, for each of ``kinds``; changes nothing."""
    if unknown := set(kinds) - set(KINDS):
        raise ValueError(f"unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    with _transient_errors_named():
        search = _Search(clients, cluster, hub_id, hosts, zone_id, schedule_group, stage, registry_prefix,
                         keep_images)
        return {kind: list(getattr(search, kind)) for kind in kinds}


def format_summary(result: dict) -> str:
    """One line for Slack and the CLI: what was found, how much was cleaned, what remains and why."""
    found = {kind: ids for kind, ids in result["found"].items() if ids}
    if not found:
        return f"nothing left behind ({len(result['found'])} kinds checked)"
    listed = "; ".join(f"{kind}: {', '.join(ids)}" for kind, ids in found.items())
    cleaned = sum(len(ids) for ids in result["cleaned"].values())
    remaining = [(kind, left) for kind, lefts in result["remaining"].items() for left in lefts]
    line = f"found {sum(map(len, found.values()))} ({listed}), cleaned {cleaned}, {len(remaining)} remain"
    return line + "".join(f"; {kind} {left['id']}: {left['reason']}" for kind, left in remaining)


@dataclass
class _Search:
    """What is still there, one property per kind: id -> what AWS said about it."""

    clients: Clients
    cluster: str
    hub_id: str
    hosts: Sequence[str]
    zone_id: str | None
    schedule_group: str
    stage: str = ""  # "": clusters of any stage (``find`` of the hub's own cluster, by name)
    registry_prefix: str = ""  # an ECR hub's repository prefix; "": nothing to look for in ECR
    keep_images: bool = False  # the hub's repositories stay on purpose

    @property
    def tag(self) -> str:
        return CLUSTER_TAG + self.cluster

    @cached_property
    def eks_clusters(self) -> dict[str, dict]:
        eks = self.clients("eks")
        others = [name for page in eks.get_paginator("list_clusters").paginate() for name in page["clusters"]]
        found = {}
        for name in dict.fromkeys([self.cluster, *others]):
            cluster = _described_cluster(eks, name, named=name == self.cluster)
            tags = (cluster or {}).get("tags", {})
            hubs = bool(self.hub_id) and tags.get(HUB_TAG) == self.hub_id
            stages = not self.stage or tags.get(STAGE_TAG) == self.stage  # another stage's is not this audit's
            if cluster and (name == self.cluster or hubs) and stages:
                found[name] = cluster
        return found

    @cached_property
    def eks_nodegroups(self) -> dict[str, dict]:
        if self.cluster not in self.eks_clusters:
            return {}  # a node group lives only in its cluster
        pages = self.clients("eks").get_paginator("list_nodegroups").paginate(clusterName=self.cluster)
        return _unless_gone(lambda: {name: {} for page in pages for name in page["nodegroups"]})

    @cached_property
    def classic_load_balancers(self) -> dict[str, dict]:
        return _tagged(self.clients("elb"), "describe_load_balancers", "LoadBalancerDescriptions",
                       "LoadBalancerName", "LoadBalancerNames", self.tag)

    @cached_property
    def load_balancers(self) -> dict[str, dict]:
        return _tagged(self.clients("elbv2"), "describe_load_balancers", "LoadBalancers", "LoadBalancerArn",
                       "ResourceArns", self.tag)

    @cached_property
    def target_groups(self) -> dict[str, dict]:
        return _tagged(self.clients("elbv2"), "describe_target_groups", "TargetGroups", "TargetGroupArn",
                       "ResourceArns", self.tag)

    @cached_property
    def volumes(self) -> dict[str, dict]:
        return _ec2(self.clients("ec2"), "describe_volumes", {"Name": "tag-key", "Values": [self.tag]},
                    {"Name": "tag:KubernetesCluster", "Values": [self.cluster]},
                    {"Name": "tag:eks:cluster-name", "Values": [self.cluster]})

    @cached_property
    def security_groups(self) -> dict[str, dict]:
        return _ec2(self.clients("ec2"), "describe_security_groups", {"Name": "tag-key", "Values": [self.tag]},
                    {"Name": "tag:aws:eks:cluster-name", "Values": [self.cluster]})

    @cached_property
    def network_interfaces(self) -> dict[str, dict]:
        groups = [{"Name": "group-id", "Values": list(self.security_groups)}] if self.security_groups else []
        return _ec2(self.clients("ec2"), "describe_network_interfaces",
                    {"Name": "description", "Values": [f"Amazon EKS {self.cluster}"]},
                    {"Name": "tag-key", "Values": [self.tag]}, *groups)

    @cached_property
    def dns_records(self) -> dict[str, dict]:
        found: dict[str, dict] = {}
        if not self.zone_id:
            return found
        paginator = self.clients("route53").get_paginator("list_resource_record_sets")
        for host in dict.fromkeys(host.rstrip(".").lower() for host in self.hosts):
            pages = paginator.paginate(HostedZoneId=self.zone_id, StartRecordName=host)
            for record in (record for page in pages for record in page["ResourceRecordSets"]):
                if record["Name"].rstrip(".").lower() != host:
                    break  # listed in name order from ``host``: the rest are other names
                if record["Type"] not in ("SOA", "NS"):
                    name = " ".join(filter(None, (host, record["Type"], record.get("SetIdentifier"))))
                    found[name] = {"HostedZoneId": self.zone_id, "ResourceRecordSet": record}
        return found

    @cached_property
    def schedules(self) -> dict[str, dict]:
        # Only ``<hub id>-<purpose>`` names: a bare prefix would also match hub "<hub id>-2".
        if not self.schedule_group:
            return {}
        names = _unless_gone(lambda: hub_schedules.existing(self.clients("scheduler"), self.schedule_group,
                                                            self.hub_id))
        return {name: {"GroupName": self.schedule_group} for name in names or ()}

    @cached_property
    def ecr_templates(self) -> dict[str, dict]:
        if not self.registry_prefix:
            return {}
        pages = self.clients("ecr").get_paginator("describe_repository_creation_templates").paginate(
            prefixes=[self.registry_prefix])
        return {t["prefix"]: {} for page in pages for t in page["repositoryCreationTemplates"]
                if t["prefix"] == self.registry_prefix}

    @cached_property
    def ecr_repositories(self) -> dict[str, dict]:
        if not self.registry_prefix or self.keep_images:
            return {}
        return {name: {} for name in image_registry.repositories(self.clients("ecr"), self.registry_prefix)}


def _described_cluster(eks: Any, name: str, *, named: bool) -> dict | None:
    try:
        return eks.describe_cluster(name=name)["cluster"]
    except ClientError as error:
        # The audit may describe only coursehub-* clusters (.chalice/policy-audit-hub.json): others are no hub's.
        if _gone(error) or (not named and _code(error) == "AccessDeniedException"):
            return None
        raise


def _tagged(client: Any, operation: str, key: str, id_key: str, tags_param: str, tag: str) -> dict[str, dict]:
    """The load balancers or target groups carrying tag key ``tag`` (whatever its value: owned or shared)."""
    items = {item[id_key]: item for page in client.get_paginator(operation).paginate() for item in page[key]}
    ids, found = list(items), {}
    for start in range(0, len(ids), TAGS_PER_CALL):
        for description in _tags(client, tags_param, ids[start:start + TAGS_PER_CALL]):
            item_id = description.get("LoadBalancerName") or description["ResourceArn"]
            if any(t["Key"] == tag for t in description.get("Tags", [])):
                found[item_id] = {**items[item_id], "Tags": description["Tags"]}
    return found


def _tags(client: Any, tags_param: str, ids: list[str]) -> list[dict]:
    try:
        return client.describe_tags(**{tags_param: ids})["TagDescriptions"]
    except ClientError as error:
        if not _gone(error):
            raise
    # One was deleted since it was listed (the controller may still be at work): ask one at a time.
    return [] if len(ids) == 1 else [d for one in ids for d in _tags(client, tags_param, [one])]


def _ec2(ec2: Any, operation: str, *filters: dict) -> dict[str, dict]:
    """What matches any of ``filters`` (each filter is one describe call: EC2 ANDs filters within a call)."""
    key, id_key = {"describe_volumes": ("Volumes", "VolumeId"),
                   "describe_security_groups": ("SecurityGroups", "GroupId"),
                   "describe_network_interfaces": ("NetworkInterfaces", "NetworkInterfaceId")}[operation]
    found: dict[str, dict] = {}
    for one in filters:
        for page in ec2.get_paginator(operation).paginate(Filters=[one]):
            for item in page[key]:
                found.setdefault(item[id_key], item)
    return found


def _clean(clients: Clients, kind: str, items: dict[str, dict], cluster: str,
           stage: str) -> list[tuple[str, str | None]]:
    """Delete what may be deleted: (id, None) once it is gone, else (id, why it remains)."""
    if kind not in _DELETE:
        return [(item_id, STILL_EXISTS) for item_id in items]
    now = _refreshed(clients, kind, items)
    kept = {item_id: _why_kept(kind, now[item_id], cluster, stage) for item_id in items if item_id in now}
    if kind == "security_groups":
        kept.update(_revoke_references(clients("ec2"), [group for group, reason in kept.items() if reason is None],
                                       stage))
    return [(item_id, None) if item_id not in now  # gone since it was found
            else (item_id, kept[item_id]) if kept[item_id]
            else (item_id, _attempt(partial(_DELETE[kind], clients, item_id, now[item_id])))
            for item_id in items]


def _refreshed(clients: Clients, kind: str, items: dict[str, dict]) -> dict[str, dict]:
    """Volumes and interfaces as they are now (deleting a load balancer frees its interfaces); others as found."""
    if kind not in ("volumes", "network_interfaces") or not items:
        return items
    by_id = {"volumes": "volume-id", "network_interfaces": "network-interface-id"}[kind]
    now = _ec2(clients("ec2"), f"describe_{kind}", {"Name": by_id, "Values": list(items)})
    return {item_id: item for item_id, item in now.items() if item.get("State") not in ("deleting", "deleted")}


def _why_kept(kind: str, item: dict, cluster: str, stage: str) -> str | None:
    """Why the audit leaves this resource alone, or None to delete it."""
    tags = {t["Key"]: t.get("Value", "") for t in item.get("Tags") or item.get("TagSet") or []}
    others = {key.removeprefix(CLUSTER_TAG) for key in tags if key.startswith(CLUSTER_TAG)}
    others |= {tags[key] for key in ("KubernetesCluster", "eks:cluster-name", "aws:eks:cluster-name") if key in tags}
    if others - {cluster}:
        return f"also tagged for cluster {', '.join(sorted(others - {cluster}))}; left alone"
    if kind in STAGE_SCOPED and (problem := hub_names.stage_problem(tags, stage,
                                                                    security_group=kind == "security_groups")):
        return problem
    if kind == "volumes" and item["State"] == "in-use":
        return f"in-use, attached to {', '.join(a['InstanceId'] for a in item.get('Attachments', []))}"
    if kind == "network_interfaces" and item["Status"] != "available":
        attached = item.get("Attachment", {})
        owner = attached.get("InstanceId") or attached.get("InstanceOwnerId") or "unknown"
        return f"{item['Status']}, attached to {owner} ({item.get('Description') or 'no description'})"
    return None


def _revoke_references(ec2: Any, group_ids: list[str], stage: str) -> dict[str, str]:
    """Revoke other groups' ingress rules naming these groups (AWS will not delete a named group); why any failed."""
    blocked: dict[str, str] = {}
    if not group_ids:
        return blocked
    naming = _ec2(ec2, "describe_security_groups", {"Name": "ip-permission.group-id", "Values": group_ids})
    for other in naming.values():
        for group in group_ids:
            rules = _rules_naming(other["IpPermissions"], group)
            if rules and other["GroupId"] != group:  # a group's rules naming itself do not hold it back
                other_tags = {t["Key"]: t.get("Value", "") for t in other.get("Tags", [])}
                # the policy would refuse the revoke
                if problem := hub_names.stage_problem(other_tags, stage, security_group=True):
                    blocked[group] = f"a rule of {other['GroupId']} names it, and that group is {problem}"
                elif reason := _attempt(partial(ec2.revoke_security_group_ingress, GroupId=other["GroupId"],
                                                IpPermissions=rules)):
                    blocked[group] = f"a rule of {other['GroupId']} names it and could not be revoked: {reason}"
    return blocked


def _rules_naming(permissions: list[dict], group: str) -> list[dict]:
    """The parts of ``permissions`` that allow traffic from ``group``, as revoke_security_group_ingress takes them."""
    rules = []
    for permission in permissions:
        pairs = [{k: v for k, v in pair.items() if k in ("GroupId", "UserId")}
                 for pair in permission.get("UserIdGroupPairs", []) if pair.get("GroupId") == group]
        if pairs:
            rules.append({**{k: v for k, v in permission.items() if k in ("IpProtocol", "FromPort", "ToPort")},
                          "UserIdGroupPairs": pairs})
    return rules


def _attempt(delete: Callable[[], Any]) -> str | None:
    """None when the call succeeded or the resource was already gone, else the error as a reason."""
    try:
        delete()
    except ClientError as error:
        if _gone(error):
            return None
        if transient(error) is not None:
            raise
        return f"{_code(error)}: {error.response.get('Error', {}).get('Message', '')}"
    return None


@contextmanager
def _transient_errors_named() -> Iterator[None]:
    """Throttling and 5xx become AwsTransientError (the state machine retries it); other errors stay as they are."""
    try:
        yield
    except ClientError as error:
        if (retry := transient(error)) is not None:
            raise retry from error
        raise


def _unless_gone(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ClientError as error:
        if _gone(error):
            return {}
        raise


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _gone(error: ClientError) -> bool:
    """A NotFound-type error (Route 53 says it in InvalidChangeBatch: "... but it was not found")."""
    code = _code(error)
    return "NotFound" in code or (code == "InvalidChangeBatch" and "not found" in str(error).lower())
