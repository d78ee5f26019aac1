"""The audit finds what a hub's teardown left behind, tagged as AWS and the Kubernetes cloud provider tag it, cleans it,
reports each by id, and never touches another cluster's or hub's resources (moto, in process)."""
from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chalicelib import audit
from chalicelib.errors import AwsTransientError

REGION = "us-east-1"
DOMAIN = "example.org"
GROUP = "coursehub-dev"
SERVICE = "ingress/nginx-ingress-controller"


class Hub:
    """One hub's leftovers, created exactly as EKS, the cloud provider and the EBS CSI driver tag them."""

    def __init__(self, clients, hub_id: str, token: str, zone_id: str, *, cluster_still_exists: bool = False,
                 stage: str = "dev"):
        self.hub_id, self.cluster, self.zone_id = hub_id, f"coursehub-{stage}-{hub_id}", zone_id
        self.stage = stage
        self.hosts = [f"binder.{hub_id}.{DOMAIN}", f"hub.binder.{hub_id}.{DOMAIN}"]
        ec2, elb, elbv2 = clients("ec2"), clients("elb"), clients("elbv2")
        vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        in_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
        subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=in_vpc)["Subnets"]]
        owned = {f"kubernetes.io/cluster/{self.cluster}": "owned"}
        # The hub's tags, from the Service's additional-resource-tags annotation and the EBS CSI driver's extra tags.
        hub_tags = {"coursehub:hub": hub_id, "coursehub:stage": stage, "coursehub:course": hub_id}
        by_service = {**owned, "kubernetes.io/service-name": SERVICE, **hub_tags}

        self.cluster_sg = ec2.create_security_group(
            GroupName=f"eks-cluster-sg-{self.cluster}-123456", VpcId=vpc,
            Description="EKS created security group applied to ENI that is attached to EKS Control Plane master nodes",
            TagSpecifications=[_spec("security-group", {"Name": f"eks-cluster-sg-{self.cluster}-123456",
                                                        "aws:eks:cluster-name": self.cluster, **owned})])["GroupId"]
        self.elb_name = f"a{token * 31}"[:32]
        self.elb_sg = ec2.create_security_group(
            GroupName=f"k8s-elb-{self.elb_name}", VpcId=vpc,
            Description=f"Security group for Kubernetes ELB {self.elb_name} ({SERVICE})",
            TagSpecifications=[_spec("security-group", by_service)])["GroupId"]
        # The provider lets the ELB reach the nodes: a rule in the cluster group naming the ELB's group.
        ec2.authorize_security_group_ingress(GroupId=self.cluster_sg, IpPermissions=[
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": self.elb_sg}]}])
        elb.create_load_balancer(
            LoadBalancerName=self.elb_name, Subnets=subnets[:1], SecurityGroups=[self.elb_sg],
            Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 80, "InstanceProtocol": "TCP", "InstancePort": 30080}],
            Tags=_tags(by_service))
        self.nlb = elbv2.create_load_balancer(Name=f"k8s-ingress-{token * 8}", Subnets=subnets[:2], Type="network",
                                              Tags=_tags(by_service))["LoadBalancers"][0]["LoadBalancerArn"]
        self.target_group = elbv2.create_target_group(
            Name=f"k8s-ingress-{token * 8}", Protocol="TCP", Port=30080, VpcId=vpc, TargetType="instance",
            Tags=_tags(by_service))["TargetGroups"][0]["TargetGroupArn"]
        elbv2.create_listener(LoadBalancerArn=self.nlb, Protocol="TCP", Port=80,
                              DefaultActions=[{"Type": "forward", "TargetGroupArn": self.target_group}])
        self.volumes = [ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=1, VolumeType="gp3", TagSpecifications=[
            _spec("volume", {**owned, **hub_tags, "kubernetes.io/created-for/pvc/name": claim,
                             "kubernetes.io/created-for/pvc/namespace": "binderhub",
                             "CSIVolumeName": f"pvc-{token * 8}-{claim}", "ebs.csi.aws.com/cluster": "true"})
        ])["VolumeId"] for claim in ("hub-db-dir", "claim-student")]
        self.eni = ec2.create_network_interface(SubnetId=subnets[0], Description=f"Amazon EKS {self.cluster}",
                                                Groups=[self.cluster_sg])["NetworkInterface"]["NetworkInterfaceId"]
        (described,) = elb.describe_load_balancers(LoadBalancerNames=[self.elb_name])["LoadBalancerDescriptions"]
        dns_name = described["DNSName"]
        clients("route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
            {"Action": "CREATE", "ResourceRecordSet": {"Name": host, "Type": "CNAME", "TTL": 60,
                                                       "ResourceRecords": [{"Value": dns_name}]}}
            for host in self.hosts]})
        # Schedules live in the stage's group; only the dev group exists here.
        self.schedules = [f"{hub_id}-teardown", f"{hub_id}-scale-down"] if stage == "dev" else []
        for name in self.schedules:
            clients("scheduler").create_schedule(
                Name=name, GroupName=GROUP, ScheduleExpression="at(2030-01-31T23:00:00)",
                FlexibleTimeWindow={"Mode": "OFF"},
                Target={"Arn": f"arn:aws:states:{REGION}:123456789012:stateMachine:coursehub-teardown",
                        "RoleArn": "arn:aws:iam::123456789012:role/coursehub-scheduler"})
        if cluster_still_exists:
            clients("eks").create_cluster(
                name=self.cluster, roleArn="arn:aws:iam::123456789012:role/eks",
                tags={"coursehub:hub": hub_id, "coursehub:stage": stage},
                resourcesVpcConfig={"subnetIds": subnets[:2]})
            clients("eks").create_nodegroup(clusterName=self.cluster, nodegroupName="workers", subnets=subnets[:2],
                                            nodeRole="arn:aws:iam::123456789012:role/nodes")

    def audit(self, clients, **options):
        return audit.audit(clients, cluster=self.cluster, hub_id=self.hub_id, stage=self.stage, hosts=self.hosts,
                           zone_id=options.pop("zone_id", self.zone_id), schedule_group=GROUP, **options)

    def still_there(self, clients) -> dict[str, list[str]]:
        """What of this hub exists now, asked of AWS directly (not through the audit)."""
        ec2, elbv2 = clients("ec2"), clients("elbv2")
        groups = {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]}
        records = clients("route53").list_resource_record_sets(HostedZoneId=self.zone_id)["ResourceRecordSets"]
        schedules = clients("scheduler").list_schedules(GroupName=GROUP)["Schedules"]
        return {
            "classic_load_balancers": [b["LoadBalancerName"] for b in clients("elb").describe_load_balancers()[
                "LoadBalancerDescriptions"] if b["LoadBalancerName"] == self.elb_name],
            "load_balancers": [b["LoadBalancerArn"] for b in elbv2.describe_load_balancers()["LoadBalancers"]
                               if b["LoadBalancerArn"] == self.nlb],
            "target_groups": [g["TargetGroupArn"] for g in elbv2.describe_target_groups()["TargetGroups"]
                              if g["TargetGroupArn"] == self.target_group],
            "volumes": [v["VolumeId"] for v in ec2.describe_volumes()["Volumes"] if v["VolumeId"] in self.volumes],
            "security_groups": [g for g in (self.cluster_sg, self.elb_sg) if g in groups],
            "network_interfaces": [i["NetworkInterfaceId"] for i in ec2.describe_network_interfaces()[
                "NetworkInterfaces"] if i["NetworkInterfaceId"] == self.eni],
            "dns_records": [r["Name"].rstrip(".") for r in records if r["Name"].rstrip(".") in self.hosts],
            "schedules": [s["Name"] for s in schedules if s["Name"] in self.schedules],
        }


def _spec(resource_type: str, tags: dict) -> dict:
    return {"ResourceType": resource_type, "Tags": _tags(tags)}


def _tags(tags: dict) -> list[dict]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


@pytest.fixture
def clients(monkeypatch):
    """boto3 clients of one in-process moto account, with fake credentials and no endpoint override."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        made: dict[str, object] = {}

        def client(name: str):
            if name not in made:
                made[name] = boto3.client(name, region_name=REGION)
            return made[name]
        yield client


@pytest.fixture
def zone_id(clients):
    zone = clients("route53").create_hosted_zone(Name=DOMAIN, CallerReference="audit-test")["HostedZone"]["Id"]
    clients("scheduler").create_schedule_group(Name=GROUP)
    return zone.rsplit("/", 1)[-1]


@pytest.fixture
def hub(clients, zone_id):
    return Hub(clients, "algebra", "1", zone_id)


@pytest.fixture
def other_hub(clients, zone_id):
    """A hub whose id extends ours (``algebra-2``), whose cluster still runs: nothing of it may be touched."""
    return Hub(clients, "algebra-2", "2", zone_id, cluster_still_exists=True)


def everything(hub) -> dict[str, list[str]]:
    return {"eks_clusters": [], "eks_nodegroups": [], "classic_load_balancers": [hub.elb_name],
            "load_balancers": [hub.nlb], "target_groups": [hub.target_group], "volumes": hub.volumes,
            "security_groups": [hub.cluster_sg, hub.elb_sg], "network_interfaces": [hub.eni],
            "dns_records": [f"{host} CNAME" for host in hub.hosts], "schedules": sorted(hub.schedules),
            "ecr_templates": [], "ecr_repositories": []}  # a DockerHub hub's audit looks for nothing in ECR


def test_finds_everything_left_behind_cleans_it_and_a_second_audit_is_clean(clients, hub, other_hub):
    result = hub.audit(clients)

    assert list(result["found"]) == list(audit.KINDS)
    assert {kind: sorted(ids) for kind, ids in result["found"].items()} == \
        {kind: sorted(ids) for kind, ids in everything(hub).items()}
    assert result["cleaned"] == result["found"]
    assert result["remaining"] == {kind: [] for kind in audit.KINDS}
    assert result["clean"] is True
    assert hub.still_there(clients) == {kind: [] for kind in hub.still_there(clients)}

    again = hub.audit(clients)
    assert again["clean"] is True and again["found"] == {kind: [] for kind in audit.KINDS}
    assert again["summary"] == "nothing left behind (12 kinds checked)"


def test_another_cluster_and_hub_are_never_touched(clients, hub, other_hub):
    before = other_hub.still_there(clients)

    result = hub.audit(clients)

    assert other_hub.still_there(clients) == before
    assert all(ids for ids in before.values())
    found = [item for ids in result["found"].values() for item in ids]
    assert other_hub.cluster not in found and not any(other_hub.hub_id + "-" in item for item in found)
    assert clients("eks").describe_cluster(name=other_hub.cluster)["cluster"]["status"] == "ACTIVE"


def test_a_rule_of_an_unrelated_group_naming_our_group_is_left_and_our_group_remains_with_the_reason(clients, hub):
    # The audit may revoke rules only in groups of its stage (.chalice/policy-audit-hub.json): this one is nobody's.
    ec2 = clients("ec2")
    vpc = ec2.describe_security_groups(GroupIds=[hub.elb_sg])["SecurityGroups"][0]["VpcId"]
    nodes = ec2.create_security_group(GroupName="shared-nodes", Description="nodes", VpcId=vpc)["GroupId"]
    rule = {"IpProtocol": "tcp", "FromPort": 30000, "ToPort": 32767, "UserIdGroupPairs": [{"GroupId": hub.elb_sg}],
            "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}
    ec2.authorize_security_group_ingress(GroupId=nodes, IpPermissions=[rule])

    result = hub.audit(clients)

    assert result["clean"] is False
    (left,) = result["remaining"]["security_groups"]
    assert left["id"] == hub.elb_sg and f"a rule of {nodes} names it" in left["reason"], left
    (group,) = ec2.describe_security_groups(GroupIds=[nodes])["SecurityGroups"]
    assert [pair["GroupId"] for pair in group["IpPermissions"][0]["UserIdGroupPairs"]] == [hub.elb_sg]


def test_an_attached_volume_and_interface_remain_with_their_ids_and_reasons(clients, hub):
    ec2 = clients("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                 Placement={"AvailabilityZone": f"{REGION}a"})["Instances"][0]["InstanceId"]
    ec2.attach_volume(VolumeId=hub.volumes[1], InstanceId=instance, Device="/dev/xvdf")
    ec2.attach_network_interface(NetworkInterfaceId=hub.eni, InstanceId=instance, DeviceIndex=1)

    result = hub.audit(clients)

    assert result["clean"] is False
    assert result["remaining"]["volumes"] == [{"id": hub.volumes[1], "reason": f"in-use, attached to {instance}"}]
    assert result["cleaned"]["volumes"] == [hub.volumes[0]]
    (eni,) = result["remaining"]["network_interfaces"]
    assert eni["id"] == hub.eni and eni["reason"].startswith("in-use, attached to ")
    assert f"Amazon EKS {hub.cluster}" in eni["reason"]
    assert hub.still_there(clients)["volumes"] == [hub.volumes[1]]
    assert f"volumes {hub.volumes[1]}: in-use, attached to {instance}" in result["summary"]
    assert ", cleaned 10, 2 remain; " in result["summary"]


def test_a_cluster_that_still_exists_is_reported_not_deleted(clients, zone_id):
    hub = Hub(clients, "geometry", "3", zone_id, cluster_still_exists=True)

    result = hub.audit(clients)

    reason = "still exists; start the teardown again"
    assert result["found"]["eks_clusters"] == [hub.cluster] and result["found"]["eks_nodegroups"] == ["workers"]
    assert result["remaining"]["eks_clusters"] == [{"id": hub.cluster, "reason": reason}]
    assert result["remaining"]["eks_nodegroups"] == [{"id": "workers", "reason": reason}]
    assert result["clean"] is False
    assert clients("eks").describe_cluster(name=hub.cluster)["cluster"]["status"] == "ACTIVE"
    assert clients("eks").list_nodegroups(clusterName=hub.cluster)["nodegroups"] == ["workers"]


def test_a_cluster_of_another_name_tagged_for_the_hub_is_reported(clients, hub):
    clients("eks").create_cluster(name="renamed", roleArn="arn:aws:iam::123456789012:role/eks",
                                  resourcesVpcConfig={"subnetIds": []},
                                  tags={"coursehub:hub": hub.hub_id, "coursehub:stage": hub.stage})

    assert hub.audit(clients)["remaining"]["eks_clusters"] == [
        {"id": "renamed", "reason": "still exists; start the teardown again"}]


def test_another_stages_cluster_and_leftovers_of_the_same_hub_id_are_not_this_audits(clients, hub):
    prod = Hub(clients, hub.hub_id, "p", hub.zone_id, stage="prod", cluster_still_exists=True)
    prod_volumes = sorted(prod.volumes)

    result = hub.audit(clients)

    assert prod.cluster not in result["found"]["eks_clusters"]
    assert not set(result["found"]["volumes"]) & set(prod_volumes)
    assert sorted(v["VolumeId"] for v in clients("ec2").describe_volumes(VolumeIds=prod_volumes)["Volumes"]) == \
        prod_volumes


def test_a_leftover_without_the_stages_tag_is_reported_not_deleted(clients, hub):
    ec2 = clients("ec2")
    stray = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=1, TagSpecifications=[
        _spec("volume", {f"kubernetes.io/cluster/{hub.cluster}": "owned"})])["VolumeId"]

    result = hub.audit(clients)

    assert stray in result["found"]["volumes"] and stray not in result["cleaned"]["volumes"]
    assert {"id": stray, "reason": "not tagged coursehub:stage=dev nor for a cluster of the stage; left alone "
            "(the audit may not delete it)"} in result["remaining"]["volumes"]
    assert ec2.describe_volumes(VolumeIds=[stray])["Volumes"]


def test_report_only_deletes_nothing(clients, hub):
    before = hub.still_there(clients)

    result = hub.audit(clients, clean=False)

    assert hub.still_there(clients) == before
    assert result["clean"] is False and result["cleaned"] == {kind: [] for kind in audit.KINDS}
    assert result["remaining"]["volumes"] == [{"id": v, "reason": "not cleaned (report only)"}
                                              for v in result["found"]["volumes"]]
    assert sorted(result["found"]["volumes"]) == sorted(hub.volumes)


def test_the_summary_names_each_kind_and_id(clients, hub):
    summary = hub.audit(clients, clean=False)["summary"]

    assert summary.startswith("found 12 (")
    for kind, ids in everything(hub).items():
        for item_id in ids:
            assert f"{item_id}" in summary
        if ids:
            assert f"{kind}: " in summary
    assert ", cleaned 0, 12 remain; " in summary


def test_without_a_hosted_zone_records_are_not_looked_for(clients, hub):
    result = hub.audit(clients, zone_id=None)

    assert result["found"]["dns_records"] == [] and result["clean"] is True
    assert hub.still_there(clients)["dns_records"] == hub.hosts


def test_a_group_aws_will_not_delete_yet_remains_with_the_reason(clients, hub):
    # moto deletes a security group even while an interface uses it or a rule names it; AWS answers DependencyViolation.
    refusing = Refusing(clients("ec2"), "delete_security_group", hub.elb_sg, "DependencyViolation",
                        f"resource {hub.elb_sg} has a dependent object")

    result = hub.audit(lambda name: refusing if name == "ec2" else clients(name))

    assert result["remaining"]["security_groups"] == [
        {"id": hub.elb_sg, "reason": f"DependencyViolation: resource {hub.elb_sg} has a dependent object"}]
    assert result["cleaned"]["security_groups"] == [hub.cluster_sg] and result["clean"] is False


def test_throttling_is_raised_for_the_state_machine_to_retry(clients, hub):
    refusing = Refusing(clients("ec2"), "delete_volume", hub.volumes[0], "RequestLimitExceeded",
                        "Request limit exceeded.", status=503)

    with pytest.raises(AwsTransientError, match="DeleteVolume failed with RequestLimitExceeded"):
        hub.audit(lambda name: refusing if name == "ec2" else clients(name))


def test_find_reports_ids_of_the_kinds_asked_and_changes_nothing(clients, hub):
    found = audit.find(clients, cluster=hub.cluster, kinds=("classic_load_balancers", "load_balancers", "volumes"))

    assert found == {"classic_load_balancers": [hub.elb_name], "load_balancers": [hub.nlb],
                     "volumes": found["volumes"]}
    assert sorted(found["volumes"]) == sorted(hub.volumes)
    assert all(hub.still_there(clients).values())


def test_a_cluster_the_audit_may_not_describe_is_not_the_hubs(clients, hub):
    # The audit's role may describe only coursehub-* clusters; another team's cluster answers AccessDenied.
    eks = clients("eks")
    eks.create_cluster(name="data-team", roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={})
    refusing = Refusing(eks, "describe_cluster", "data-team", "AccessDeniedException", "not authorized", status=403)

    result = hub.audit(lambda name: refusing if name == "eks" else clients(name))

    assert result["found"]["eks_clusters"] == [] and result["clean"] is True


# Deletes that AWS answers with "not found" when repeated (classic DeleteLoadBalancer succeeds on a missing ELB).
DELETES = {"elbv2": "delete_target_group", "scheduler": "delete_schedule",
           "ec2": ("delete_volume", "delete_security_group", "delete_network_interface")}


def test_what_is_already_gone_when_deleted_counts_as_cleaned(clients, hub):
    # Each delete runs twice, so the audit's own call meets AWS's "not found" (the controller got there first).
    twice = {name: Twice(clients(name), operations) for name, operations in DELETES.items()}

    result = hub.audit(lambda name: twice.get(name) or clients(name))

    assert result["clean"] is True and result["cleaned"] == result["found"]
    assert {code for name in DELETES for code in twice[name].not_found} == {
        "TargetGroupNotFound", "ResourceNotFoundException", "InvalidVolume.NotFound", "InvalidGroup.NotFound",
        "InvalidNetworkInterfaceID.NotFound"}


def test_a_record_route53_no_longer_has_counts_as_cleaned(clients, hub):
    # moto 5.2.5 accepts a repeated DELETE; AWS answers InvalidChangeBatch "... but it was not found".
    route53 = Refusing(clients("route53"), "change_resource_record_sets", hub.zone_id, "InvalidChangeBatch",
                       f"[Tried to delete resource record set [name='{hub.hosts[0]}.', type='CNAME'] "
                       "but it was not found]")

    result = hub.audit(lambda name: route53 if name == "route53" else clients(name))

    assert result["cleaned"]["dns_records"] == [f"{host} CNAME" for host in hub.hosts] and result["clean"] is True


class Refusing:
    """A client whose ``operation`` fails with ``code`` for the resource ``refused``, as AWS would."""

    def __init__(self, client, operation: str, refused: str, code: str, message: str, status: int = 400):
        self._client, self._operation, self._refused = client, operation, refused
        self._error = ClientError({"Error": {"Code": code, "Message": message},
                                   "ResponseMetadata": {"HTTPStatusCode": status}},
                                  "".join(part.title() for part in operation.split("_")))

    def __getattr__(self, name):
        call = getattr(self._client, name)
        if name != self._operation:
            return call

        def refusing(**params):
            if self._refused in params.values():
                raise self._error
            return call(**params)
        return refusing


class Twice:
    """A client that sends each of ``operations`` twice and answers with the second call (recording its error)."""

    def __init__(self, client, operations):
        self._client = client
        self._operations = {operations} if isinstance(operations, str) else set(operations)
        self.not_found: list[str] = []

    def __getattr__(self, name):
        call = getattr(self._client, name)
        if name not in self._operations:
            return call

        def twice(**params):
            call(**params)
            try:
                return call(**params)
            except ClientError as error:
                self.not_found.append(error.response["Error"]["Code"])
                raise
        return twice
