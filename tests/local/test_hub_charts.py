"""The provisioning steps in order, called directly on the local stack: cluster to verified HTTPS hub.

The state machine will call the same functions one Task at a time; here the
test plays the state machine, advancing the clock instead of waiting.
"""
import json
import uuid
from datetime import date, timedelta

import pytest

from chalicelib import dns_records, eks_cluster, hub_charts, hub_names, https_check, load_balancer, storage_addons
from chalicelib.hub_request import HubRequest, Limits
from chalicelib.kube_session import cluster_session
from chalicelib.settings import Settings
from tests.conftest import eventually


def until(check, *args, errors):
    """Call a check until it stops raising its not-ready error (what a Task's Retry does)."""
    def attempt():
        try:
            return check(*args) or True
        except errors:
            return None
    return eventually(attempt, timeout=30)


@pytest.fixture(scope="module")
def request_(stack):
    course = f"t{uuid.uuid4().hex[:6]}"
    secrets = stack.seeded.secrets
    return HubRequest.parse({
        "course_id": course, "domain": f"{course}.courses.example.edu",
        "term_end": (date.today() + timedelta(days=100)).isoformat(),
        "image_prefix": f"coursehub/{course}-", "acme_email": "ops@example.edu", "acme_staging": True,
        "nodes": {"instance_type": "m5.large", "min_size": 1, "desired_size": 1, "max_size": 2},
        "dockerhub_secret_arn": secrets["dockerhub"], "github_token_secret_arn": secrets["github"],
        "slack_webhook_secret_arn": secrets["slack"],
    }, Limits())


def test_a_hub_comes_up_step_by_step_and_answers_over_verified_https(stack, request_):
    settings, eks, timings = Settings.from_env(), stack.client("eks"), stack.clusters.timings
    name, hub_id = hub_names.cluster_name(settings.stage, request_.course_id), request_.course_id
    tags = hub_names.tags(settings.stage, hub_id, request_.course_id)
    eks_cluster.create_cluster(eks, name=name, version="1.33", role_arn=stack.seeded.roles["eks-cluster"],
                               subnet_ids=stack.seeded.subnet_ids, tags=tags)
    stack.clock.advance(stack.config.eks.cluster_create)
    until(eks_cluster.check_cluster, eks, name, errors=eks_cluster.ClusterNotReady)
    eks_cluster.grant_admin(eks, name=name, principal_arn=stack.seeded.roles["lambda"])
    eks_cluster.create_nodegroup(eks, cluster=name, node_role_arn=stack.seeded.roles["eks-node"],
                                 subnet_ids=stack.seeded.subnet_ids, instance_type=request_.nodes.instance_type,
                                 scaling=request_.nodes.model_dump(), tags=tags)
    stack.clock.advance(stack.config.eks.nodegroup_create)
    until(eks_cluster.check_nodegroup, eks, name, errors=eks_cluster.NodegroupNotReady)
    storage_addons.create(eks, cluster=name, role_arn=stack.seeded.roles["ebs-csi"], tags=tags)
    stack.clock.advance(stack.config.eks.addon_create + timings.workload_ready)
    until(storage_addons.check, eks, name, errors=storage_addons.StorageAddonsNotReady)

    secrets = hub_charts.chart_secrets(stack.client, request_, settings.stage)
    with cluster_session(eks, stack.client("sts"), name, bin_dir=settings.tools_dir,
                         timeout=settings.kube_timeout_seconds) as runner:
        installed = [hub_charts.install(runner, key, request_, chart_repository=settings.chart_repository,
                                        secrets=secrets, tags=tags) for key in ("ingress", "cert_manager", "binderhub")]
        assert [i["release"] for i in installed] == ["nginx-ingress", "cert-manager", "binderhub"]
        assert all(i["revision"] == 1 for i in installed)
        assert secrets.registry.password not in json.dumps(installed)

        stack.clock.advance(max(timings.load_balancer_ready, timings.workload_ready))
        service = until(lambda: load_balancer.hostname(hub_charts.ingress_service(runner)) and
                        hub_charts.ingress_service(runner),
                        errors=(load_balancer.LoadBalancerNotReady, hub_charts.IngressNotReady))
        balancer = load_balancer.ensure_health_check(stack.client("elb"), stack.client("elbv2"), service)
        assert balancer["health_check"] == f"TCP:{load_balancer.http_node_port(service)}"
        # The ingress's load balancer and its security group carry the hub's tags (the Service annotation).
        elb = stack.client("elb")
        (made,) = [b for b in elb.describe_load_balancers()["LoadBalancerDescriptions"]
                   if b["DNSName"] == balancer["dns_name"]]
        lb_tags = elb.describe_tags(LoadBalancerNames=[made["LoadBalancerName"]])["TagDescriptions"][0]["Tags"]
        assert tags.items() <= {t["Key"]: t["Value"] for t in lb_tags}.items()
        (group,) = stack.client("ec2").describe_security_groups(GroupIds=made["SecurityGroups"])["SecurityGroups"]
        assert tags.items() <= {t["Key"]: t["Value"] for t in group["Tags"]}.items()

        with pytest.raises(hub_charts.CertificatesNotReady, match="no such host"):
            stack.clock.advance(60)
            eventually(lambda: json.loads(runner.kubectl("get", "challenges", "-n", "binderhub", "-o", "json"))
                       ["items"])
            hub_charts.check_certificates(runner)

        zone = dns_records.find_zone(stack.client("route53"), request_.domain)
        dns_records.upsert(stack.client("route53"), zone, [request_.binder, request_.hub], balancer["dns_name"])
        stack.clock.advance(timings.certificate_issue + 10)
        assert until(hub_charts.check_certificates, runner, errors=hub_charts.CertificatesNotReady)

        stack.clock.advance(timings.workload_ready)
        staging_roots = stack.details()["acme_staging_roots"]  # an acme_staging hub chains to the staging root
        verified = until(https_check.verify_hub, request_.binder, request_.hub, 10, staging_roots,
                         errors=https_check.HubNotAnswering)
        assert verified["binder_url"] == f"https://{request_.binder}"
        # So does the database's volume (the EBS CSI driver's extra tags).
        (volume,) = stack.client("ec2").describe_volumes(Filters=[
            {"Name": "tag:KubernetesCluster", "Values": [name]}])["Volumes"]
        assert tags.items() <= {t["Key"]: t["Value"] for t in volume["Tags"]}.items()

        again = hub_charts.install(runner, "binderhub", request_, chart_repository=settings.chart_repository,
                                   secrets=secrets)
        assert again["revision"] == 2  # a rerun upgrades in place: one revision more, nothing duplicated
