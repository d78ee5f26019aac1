"""Each provisioning step: what it asks AWS and the cluster for, what it records on the hub, what it raises.

Every test runs on the in-memory hub table and on moto's DynamoDB (``dynamodb``); EKS, subnets, load balancers,
schedules and helm/kubectl are fakes (tests/chalicelib/fakes.py); Route53 and Secrets Manager are moto's.
"""
import functools
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from chalicelib import dns_records, eks_cluster, hub_records, https_check, provisioning
from chalicelib.dns_records import DnsNotResolving
from chalicelib.eks_cluster import ClusterFailed, ClusterNotReady, NodegroupNotReady
from chalicelib.errors import InvalidEvent, SettingsError
from chalicelib.hub_charts import CertificatesNotReady, IngressNotReady
from chalicelib.https_check import HubNotAnswering
from chalicelib.storage_addons import StorageAddonsNotReady
from tests.chalicelib.conftest import HUB
from tests.chalicelib.fakes import FakeEc2, FakeElb, FakeScheduler
from tests.chalicelib.test_hub_request import GOOD

CLUSTER = "coursehub-dev-cs101"
NOW = datetime(2026, 11, 27, 12, tzinfo=timezone.utc)


def running(record, step):
    """The step is recorded as the current one, started and not finished."""
    entry = record["steps"][step]
    return record["current_step"] == step and entry["outcome"] == "RUNNING" and "ended_at" not in entry


def succeeded(record, step, detail=""):
    entry = record["steps"][step]
    return entry["outcome"] == "SUCCEEDED" and entry["detail"] == detail and entry["started_at"] <= entry["ended_at"]


class TestRecordTheHub:
    def test_a_new_hub_is_recorded_provisioning_with_the_accepted_request(self, dynamodb, settings):
        submitted = {k: v for k, v in GOOD.items() if k != "slack_webhook_secret_arn"}
        submitted["term_end"] = (date.today() + timedelta(days=60)).isoformat()
        state = provisioning.start(dynamodb, settings, {"hub_id": HUB, "request": submitted, "execution": "arn:x"})
        stored = hub_records.get(dynamodb, settings.hub_table_name, HUB)
        assert stored["status"] == "PROVISIONING" and stored["steps"] == {}
        assert stored["workflow"] == "provision" and stored["execution_arn"] == "arn:x"
        assert state["request"] == stored["request"]
        assert stored["request"]["slack_webhook_secret_arn"] == settings.slack_webhook_secret_arn  # the stage's
        assert state["hub"] == {"cluster": CLUSTER, "binder": "binder.courses.example.edu",
                                "hub": "hub.binder.courses.example.edu", "course": "cs101"}
        assert stored["cluster"] == CLUSTER  # recorded before it exists: later workflows use the recorded name

    def test_a_rerun_clears_the_steps_and_error_of_the_run_before(self, dynamodb, settings, hub, record):
        hub_records.step_started(dynamodb, settings.hub_table_name, HUB, "Create the cluster")
        hub_records.set_status(dynamodb, settings.hub_table_name, HUB, "FAILED", error={"step": "x"})
        request = {**GOOD, "term_end": (date.today() + timedelta(days=60)).isoformat()}
        provisioning.start(dynamodb, settings, {"hub_id": HUB, "request": request})
        again = record()
        assert (again["status"], again["steps"], again["error"], again["current_step"]) == ("PROVISIONING", {},
                                                                                            None, None)
        assert again["execution_arn"] is None

    def test_a_stopped_runs_late_first_step_does_not_take_back_a_hub_its_teardown_claimed(self, dynamodb, settings,
                                                                                         hub, record):
        """A DELETE of a PROVISIONING hub claims it RETIRING and stops the run; on a loaded machine the run's first
        Task may still run after that, and must not record the hub PROVISIONING again."""
        hub_records.set_status(dynamodb, settings.hub_table_name, HUB, "RETIRING", execution_arn="teardown-run")
        request = {**GOOD, "term_end": (date.today() + timedelta(days=60)).isoformat()}
        with pytest.raises(hub_records.HubAlreadyExists):
            provisioning.start(dynamodb, settings, {"hub_id": HUB, "request": request})
        assert (record()["status"], record()["execution_arn"]) == ("RETIRING", "teardown-run")

    def test_a_request_the_stage_refuses_records_nothing(self, dynamodb, settings):
        with pytest.raises(ValidationError):
            provisioning.start(dynamodb, settings, {"hub_id": HUB, "request": {**GOOD, "term_end": "2001-01-01"}})
        with pytest.raises(hub_records.HubNotFound):
            hub_records.get(dynamodb, settings.hub_table_name, HUB)

    def test_an_event_without_a_hub_id_is_refused(self, dynamodb, settings):
        with pytest.raises(InvalidEvent, match="hub_id"):
            provisioning.start(dynamodb, settings, {"request": GOOD})


class TestCluster:
    def test_create_starts_the_cluster_with_access_entries_only_and_the_hubs_tags(self, eks, ec2, dynamodb, settings,
                                                                                     hub, record):
        result = provisioning.create_cluster(eks, ec2, dynamodb, settings, hub("Create the cluster"))
        assert result == {"name": CLUSTER, "status": "CREATING", "reused": False}
        cluster = eks.clusters[CLUSTER]
        assert cluster["tags"] == {"coursehub:course": "cs101", "coursehub:stage": "dev", "coursehub:hub": HUB}
        assert cluster["accessConfig"] == {"authenticationMode": "API"}
        assert cluster["roleArn"] == settings.cluster_role_arn and cluster["subnets"] == list(settings.subnet_ids)
        assert succeeded(record(), "Create the cluster", "created") and record()["current_step"] == "Create the cluster"

    def test_a_subnet_in_a_zone_eks_does_not_support_is_left_out(self, eks, dynamodb, settings, hub):
        from dataclasses import replace
        ec2 = FakeEc2({"subnet-b": "use1-az2", "subnet-e": "use1-az3", "subnet-a1": "use1-az1"})
        provisioning.create_cluster(eks, ec2, dynamodb, replace(settings, subnet_ids=("subnet-b", "subnet-e",
                                                                                      "subnet-a1")),
                                    hub("Create the cluster"))
        assert eks.clusters[CLUSTER]["subnets"] == ["subnet-b", "subnet-a1"]

    def test_a_rerun_reuses_the_hubs_cluster(self, eks, ec2, dynamodb, settings, hub, record):
        provisioning.create_cluster(eks, ec2, dynamodb, settings, hub("Create the cluster"))
        eks.clusters[CLUSTER]["status"] = "ACTIVE"
        result = provisioning.create_cluster(eks, ec2, dynamodb, settings, hub("Create the cluster"))
        assert result == {"name": CLUSTER, "status": "ACTIVE", "reused": True}
        assert succeeded(record(), "Create the cluster", "reused")

    def test_another_hubs_cluster_is_not_taken_and_the_step_stays_running(self, eks, ec2, dynamodb, settings, hub,
                                                                           record):
        eks.add_cluster(CLUSTER, "hub-other")
        with pytest.raises(ClusterFailed, match="does not belong to hub hub-cs101"):
            provisioning.create_cluster(eks, ec2, dynamodb, settings, hub("Create the cluster"))
        assert running(record(), "Create the cluster")

    def test_another_stages_cluster_of_the_same_hub_id_is_not_taken(self, eks, ec2, dynamodb, settings, hub, record):
        eks.add_cluster(CLUSTER, HUB, stage="prod")
        with pytest.raises(ClusterFailed, match="belongs to stage prod, not dev"):
            provisioning.create_cluster(eks, ec2, dynamodb, settings, hub("Create the cluster"))
        assert running(record(), "Create the cluster") and eks.clusters[CLUSTER]["tags"]["coursehub:stage"] == "prod"

    def test_the_cluster_the_workflow_names_is_the_one_used(self, eks, ec2, dynamodb, settings, hub):
        eks.add_cluster("coursehub-cs101", HUB)  # a hub's cluster from before the stage was in the name
        result = provisioning.create_cluster(eks, ec2, dynamodb, settings, hub("Create the cluster",
                                                                          cluster="coursehub-cs101"))
        assert result == {"name": "coursehub-cs101", "status": "ACTIVE", "reused": True} and CLUSTER not in eks.clusters

    def test_without_the_cluster_role_nothing_is_created(self, eks, ec2, dynamodb, settings, hub):
        from dataclasses import replace
        with pytest.raises(SettingsError, match="CLUSTER_ROLE_ARN"):
            provisioning.create_cluster(eks, ec2, dynamodb, replace(settings, cluster_role_arn=""),
                                        hub("Create the cluster"))
        assert eks.clusters == {}

    def test_the_check_is_not_ready_until_active_and_keeps_the_first_start(self, eks, dynamodb, settings, hub, record,
                                                                            clock):
        eks.add_cluster(CLUSTER, HUB, status="CREATING")
        with pytest.raises(ClusterNotReady, match="CREATING"):
            provisioning.check_cluster(eks, dynamodb, settings, hub("Check the cluster is active"))
        first = record()["steps"]["Check the cluster is active"]["started_at"]
        assert running(record(), "Check the cluster is active")
        eks.clusters[CLUSTER]["status"] = "ACTIVE"
        result = provisioning.check_cluster(eks, dynamodb, settings, hub("Check the cluster is active"))
        assert result == {"name": CLUSTER, "status": "ACTIVE", "endpoint": f"https://{CLUSTER}.eks",
                          "version": "1.33"}
        assert record()["steps"]["Check the cluster is active"]["started_at"] == first
        assert succeeded(record(), "Check the cluster is active")

    def test_a_failed_cluster_is_a_terminal_error(self, eks, dynamodb, settings, hub):
        eks.add_cluster(CLUSTER, HUB, status="FAILED")
        with pytest.raises(ClusterFailed):
            provisioning.check_cluster(eks, dynamodb, settings, hub("Check the cluster is active"))

    def test_an_event_without_a_request_is_refused_before_anything_is_recorded(self, eks, dynamodb, settings, hub,
                                                                               record):
        with pytest.raises(InvalidEvent, match="request"):
            provisioning.check_cluster(eks, dynamodb, settings, {"hub_id": HUB, "step": "Check the cluster is active"})
        assert record()["steps"] == {}


class TestNodegroup:
    def test_create_grants_the_kube_roles_and_puts_the_nodes_in_one_zone(self, eks, ec2, dynamodb, settings, hub,
                                                                          record):
        eks.add_cluster(CLUSTER, HUB)
        result = provisioning.create_nodegroup(eks, ec2, dynamodb, settings, hub("Create the node group"))
        assert result == {"name": "workers", "status": "CREATING", "reused": False}
        assert eks.access_entries == {(CLUSTER, settings.kube_role_arns[0])}
        assert [p["policyArn"] for p in eks.access_policies] == [eks_cluster.ADMIN_POLICY]
        nodegroup = eks.nodegroups[CLUSTER]
        assert nodegroup["subnets"] == ["subnet-a1", "subnet-a2"] and nodegroup["nodeRole"] == settings.node_role_arn
        assert nodegroup["scalingConfig"] == {"minSize": 1, "maxSize": 3, "desiredSize": 1}
        assert nodegroup["labels"] == {"coursehub/hub": HUB}
        assert succeeded(record(), "Create the node group")
        again = provisioning.create_nodegroup(eks, ec2, dynamodb, settings, hub("Create the node group"))
        assert again["reused"] is True and len(eks.access_policies) == 2  # the access entry existed: no error

    def test_the_check_waits_for_active_and_fails_on_create_failed(self, eks, dynamodb, settings, hub, record):
        eks.nodegroups[CLUSTER] = {"nodegroupName": "workers", "status": "CREATING"}
        with pytest.raises(NodegroupNotReady):
            provisioning.check_nodegroup(eks, dynamodb, settings, hub("Check the node group is active"))
        assert running(record(), "Check the node group is active")
        eks.nodegroups[CLUSTER].update(status="ACTIVE", scalingConfig={"minSize": 1, "maxSize": 3, "desiredSize": 1})
        result = provisioning.check_nodegroup(eks, dynamodb, settings, hub("Check the node group is active"))
        assert result["scaling"] == {"minSize": 1, "maxSize": 3, "desiredSize": 1}
        assert succeeded(record(), "Check the node group is active")
        eks.nodegroups[CLUSTER]["status"] = "CREATE_FAILED"
        with pytest.raises(ClusterFailed, match="CREATE_FAILED"):
            provisioning.check_nodegroup(eks, dynamodb, settings, hub("Check the node group is active"))


class TestStorageAddons:
    def test_create_records_what_was_created_then_what_was_reused(self, eks, dynamodb, settings, hub, record):
        result = provisioning.create_storage_addons(eks, dynamodb, settings, hub("Create the storage add-ons"))
        assert result["association_outcome"] == "created"
        assert eks.associations[0]["roleArn"] == settings.ebs_csi_role_arn
        assert succeeded(record(), "Create the storage add-ons",
                         "eks-pod-identity-agent created, aws-ebs-csi-driver created")
        provisioning.create_storage_addons(eks, dynamodb, settings, hub("Create the storage add-ons"))
        assert succeeded(record(), "Create the storage add-ons",
                         "eks-pod-identity-agent reused, aws-ebs-csi-driver reused")
        assert len(eks.associations) == 1

    def test_the_check_waits_until_both_are_active(self, eks, dynamodb, settings, hub, record):
        provisioning.create_storage_addons(eks, dynamodb, settings, hub("Create the storage add-ons"))
        with pytest.raises(StorageAddonsNotReady, match="aws-ebs-csi-driver is CREATING"):
            provisioning.check_storage_addons(eks, dynamodb, settings, hub("Check the storage add-ons are active"))
        assert running(record(), "Check the storage add-ons are active")
        for addon in eks.addons.values():
            addon["status"] = "ACTIVE"
        result = provisioning.check_storage_addons(eks, dynamodb, settings, hub("Check the storage add-ons are active"))
        assert result == {"addons": {"eks-pod-identity-agent": "v1.0.0-eksbuild.1",
                                     "aws-ebs-csi-driver": "v1.0.0-eksbuild.1"}}
        assert succeeded(record(), "Check the storage add-ons are active")


class TestInstallRelease:
    def test_the_ingress_is_installed_without_reading_any_secret_and_an_upgrade_is_one_revision_more(
            self, dynamodb, settings, hub, record, runner):
        def clients(service):
            raise AssertionError(f"the ingress needs no {service} client")

        event = hub("Install the ingress controller", release="ingress")
        result = provisioning.install_release(clients, dynamodb, settings, event)
        assert (result["release"], result["namespace"], result["revision"], result["status"]) == (
            "nginx-ingress", "ingress", 1, "deployed")
        assert succeeded(record(), "Install the ingress controller", "nginx-ingress revision 1")
        provisioning.install_release(clients, dynamodb, settings, event)
        assert succeeded(record(), "Install the ingress controller", "nginx-ingress revision 2")

    def test_binderhub_gets_its_secrets_in_values_never_on_the_command_line_or_in_the_log(
            self, aws, dynamodb, settings, hub, record, runner, request_data, logged):
        secrets = aws("secretsmanager")
        dockerhub = secrets.create_secret(Name="dockerhub", SecretString=json.dumps(
            {"username": "cs101bot", "password": "hunter2-registry"}))["ARN"]
        github = secrets.create_secret(Name="github", SecretString="ghp_s3cr3t-token")["ARN"]
        request_data.update(dockerhub_secret_arn=dockerhub, github_token_secret_arn=github)
        result = provisioning.install_release(aws, dynamodb, settings, hub("Install BinderHub", release="binderhub"))
        assert result["release"] == "binderhub" and succeeded(record(), "Install BinderHub", "binderhub revision 1")
        values = json.dumps(runner.values["binderhub"])
        assert "hunter2-registry" in values and "ghp_s3cr3t-token" in values
        commands = json.dumps(runner.commands)
        assert "hunter2-registry" not in commands and "ghp_s3cr3t-token" not in commands
        lines = json.dumps(logged())
        assert '"step": "Install BinderHub"' in lines
        assert "hunter2-registry" not in lines and "ghp_s3cr3t-token" not in lines
        assert [m["kind"] for m in runner.applied] == ["Issuer"]  # the ACME issuer of the hub's namespace

    def test_an_unknown_release_is_refused(self, dynamodb, settings, hub, runner):
        with pytest.raises(InvalidEvent, match="unknown release 'jupyterhub'"):
            provisioning.install_release(None, dynamodb, settings, hub("Install BinderHub", release="jupyterhub"))
        assert runner.commands == []


class TestLoadBalancer:
    def test_no_ingress_service_yet_is_not_ready(self, dynamodb, settings, hub, record, runner):
        with pytest.raises(IngressNotReady):
            provisioning.configure_load_balancer(None, dynamodb, settings, hub("Fix the load balancer health check"))
        assert running(record(), "Fix the load balancer health check")

    def test_a_health_check_on_the_wrong_port_is_patched_to_port_80s_node_port(self, dynamodb, settings, hub, record,
                                                                             runner):
        dns_name = "a1b2c3-123.us-east-1.elb.amazonaws.com"
        elb = FakeElb([{"LoadBalancerName": "a1b2c3", "DNSName": dns_name, "HealthCheck": {
            "Target": "TCP:30443", "Interval": 10, "Timeout": 5, "UnhealthyThreshold": 6, "HealthyThreshold": 2}}])
        clients = {"elb": elb, "elbv2": FakeElb()}.get
        runner.services = [{"metadata": {"name": "nginx-ingress-controller"},
                            "spec": {"type": "LoadBalancer", "ports": [{"port": 443, "nodePort": 30443},
                                                                       {"port": 80, "nodePort": 30080}]},
                            "status": {"loadBalancer": {"ingress": [{"hostname": dns_name}]}}}]
        event = hub("Fix the load balancer health check")
        result = provisioning.configure_load_balancer(clients, dynamodb, settings, event)
        assert (result["patched"], result["health_check_was"], result["dns_name"]) == (True, "TCP:30443", dns_name)
        assert elb.balancers[0]["HealthCheck"]["Target"] == "TCP:30080"
        assert elb.balancers[0]["HealthCheck"]["Interval"] == 10  # the rest of the check is kept
        assert succeeded(record(), "Fix the load balancer health check", "health check TCP:30080")
        assert provisioning.configure_load_balancer(clients, dynamodb, settings, event)["patched"] is False


class TestDns:
    def test_records_are_upserted_in_the_domains_zone(self, aws, dynamodb, settings, hub, record):
        route53 = aws("route53")
        zone = route53.create_hosted_zone(Name="example.edu", CallerReference="1")["HostedZone"]["Id"].split("/")[-1]
        event = hub("Publish DNS", load_balancer={"dns_name": "lb-1.elb.amazonaws.com"})
        result = provisioning.publish_dns(route53, dynamodb, settings, event)
        assert result["zone_id"] == zone and result["target"] == "lb-1.elb.amazonaws.com"
        found = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        assert sorted(r["Name"] for r in found if r["Type"] == "CNAME") == [
            "binder.courses.example.edu.", "hub.binder.courses.example.edu."]
        assert succeeded(record(), "Publish DNS", f"records in {zone}")
        provisioning.publish_dns(route53, dynamodb, settings, event)  # UPSERT: a rerun changes nothing
        assert len(route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]) == len(found)

    def test_without_a_zone_the_records_to_create_are_returned_and_the_step_stays_running(self, aws, dynamodb,
                                                                                          settings, hub, record):
        event = hub("Publish DNS", load_balancer={"dns_name": "lb-1.elb.amazonaws.com"})
        result = provisioning.publish_dns(aws("route53"), dynamodb, settings, event)
        assert result == {"zone_id": None, "target": "lb-1.elb.amazonaws.com", "records": [
            "binder.courses.example.edu 60 IN CNAME lb-1.elb.amazonaws.com",
            "hub.binder.courses.example.edu 60 IN CNAME lb-1.elb.amazonaws.com"]}
        assert running(record(), "Publish DNS")

    def test_the_check_waits_until_both_names_resolve_to_the_load_balancer(self, dynamodb, settings, hub, record,
                                                                           monkeypatch):
        answers = {"lb-1.elb.amazonaws.com": "192.0.2.10", "binder.courses.example.edu": "192.0.2.10"}

        def resolve(host, port):
            if host not in answers:
                raise OSError("Name or service not known")
            return [(2, 1, 6, "", (answers[host], port))]

        monkeypatch.setattr(dns_records, "check_resolves",
                            functools.partial(dns_records.check_resolves, resolve=resolve))
        event = hub("Check DNS resolves", dns={"target": "lb-1.elb.amazonaws.com"})
        with pytest.raises(DnsNotResolving, match="hub.binder.courses.example.edu does not resolve"):
            provisioning.check_dns(dynamodb, settings, event)
        assert running(record(), "Check DNS resolves")
        answers["hub.binder.courses.example.edu"] = "192.0.2.10"
        assert provisioning.check_dns(dynamodb, settings, event) == {
            "resolved": ["binder.courses.example.edu", "hub.binder.courses.example.edu"]}
        assert succeeded(record(), "Check DNS resolves")


class TestCertificatesAndHttps:
    def test_certificates_not_ready_name_the_challenges_reason(self, dynamodb, settings, hub, record, runner):
        runner.certificates = [{"metadata": {"name": "binder-tls"}, "status": {"conditions": [
            {"type": "Ready", "status": "False"}]}}]
        runner.challenges = [{"status": {"reason": "Waiting for HTTP-01 challenge propagation"}}]
        with pytest.raises(CertificatesNotReady, match="binder-tls; Waiting for HTTP-01"):
            provisioning.check_certificates(None, dynamodb, settings, hub("Check the certificates are issued"))
        assert running(record(), "Check the certificates are issued")
        runner.certificates[0]["status"]["conditions"][0]["status"] = "True"
        result = provisioning.check_certificates(None, dynamodb, settings, hub("Check the certificates are issued"))
        assert result == {"certificates": ["binder-tls"]}
        assert succeeded(record(), "Check the certificates are issued")

    @pytest.mark.parametrize("staging", [True, False])
    def test_the_hub_is_verified_against_the_roots_its_certificate_chains_to(self, dynamodb, settings, hub, record,
                                                                             request_data, monkeypatch, staging):
        asked = []
        monkeypatch.setattr(https_check, "verify_hub", lambda binder, hub_host, cafile: asked.append(
            (binder, hub_host, cafile)) or {"binder_url": f"https://{binder}"})
        request_data["acme_staging"] = staging
        assert provisioning.verify_hub(dynamodb, settings, hub("Verify the hub over HTTPS"))["binder_url"] == \
            "https://binder.courses.example.edu"
        assert asked == [("binder.courses.example.edu", "hub.binder.courses.example.edu",
                          settings.acme_staging_roots if staging else None)]
        assert succeeded(record(), "Verify the hub over HTTPS")

    def test_a_hub_not_answering_leaves_the_step_running(self, dynamodb, settings, hub, record, monkeypatch):
        def not_yet(*args, **kwargs):
            raise HubNotAnswering("https://binder.courses.example.edu/health answered HTTP 503")

        monkeypatch.setattr(https_check, "verify_hub", not_yet)
        with pytest.raises(HubNotAnswering, match="503"):
            provisioning.verify_hub(dynamodb, settings, hub("Verify the hub over HTTPS"))
        assert running(record(), "Verify the hub over HTTPS")


class TestReadyAndSchedules:
    def test_ready_records_the_urls_cluster_load_balancer_and_scale(self, dynamodb, settings, hub, record):
        urls = provisioning.ready(dynamodb, settings, hub("Record the hub as ready",
                                                         load_balancer={"dns_name": "lb-1.elb.amazonaws.com"}))
        assert urls == {"binder": "https://binder.courses.example.edu", "hub": "https://hub.binder.courses.example.edu"}
        stored = record()
        assert (stored["status"], stored["urls"], stored["cluster"], stored["load_balancer"]) == (
            "READY", urls, CLUSTER, "lb-1.elb.amazonaws.com")
        assert stored["scale"] == {"direction": "up", "min_size": 1, "desired_size": 1, "max_size": 3}
        assert succeeded(stored, "Record the hub as ready")

    def test_the_schedules_are_created_recorded_and_on_a_rerun_replaced(self, dynamodb, settings, hub, record,
                                                                        request_data):
        scheduler = FakeScheduler()
        request_data["scaling"] = {"down_at": "20:00", "up_at": "07:00"}
        result = provisioning.schedule_lifecycle(scheduler, dynamodb, settings, hub("Schedule the hub's life"), NOW)
        names = ["hub-cs101-reminder", "hub-cs101-scale-down", "hub-cs101-scale-up", "hub-cs101-teardown"]
        assert result["schedules"] == names and sorted(name for _, name in scheduler.schedules) == names
        assert result["retire_at"] == "2027-03-01 23:00 UTC" and result["scaling"].startswith("scaled to 0 nodes")
        stored = record()
        assert sorted(stored["schedules"]) == names and stored["retire_at"] == "2027-03-01T23:00:00+00:00"
        assert succeeded(stored, "Schedule the hub's life", "hub-cs101-teardown, hub-cs101-reminder, "
                                                            "hub-cs101-scale-down, hub-cs101-scale-up")
        request_data["scaling"] = None  # always on now: the scaling schedules go
        again = provisioning.schedule_lifecycle(scheduler, dynamodb, settings, hub("Schedule the hub's life"), NOW)
        assert again["schedules"] == ["hub-cs101-reminder", "hub-cs101-teardown"] and again["scaling"] == "always on"
        assert sorted(name for _, name in scheduler.schedules) == again["schedules"]


class TestImageRegistry:
    def test_an_ecr_hub_gets_its_creation_template_with_the_hubs_tags(self, dynamodb, settings, hub, record):
        from tests.chalicelib.fakes import FakeEcr
        from tests.chalicelib.test_hub_request import ECR

        ecr, request = FakeEcr(), {**ecr_request_json(ECR), "images_per_repository": 4}
        result = provisioning.prepare_registry(ecr, dynamodb, settings, {**hub("Prepare the image registry"),
                                                                         "request": request})
        assert result == {"registry": "ecr", "prefix": "coursehub-dev/cs101", "template": "created",
                          "images_per_repository": 4}
        template = ecr.templates["coursehub-dev/cs101"]
        assert {t["Key"]: t["Value"] for t in template["resourceTags"]}["coursehub:hub"] == HUB
        assert template["customRoleArn"] == settings.ecr_creation_role_arn
        assert succeeded(record(), "Prepare the image registry", "ECR template coursehub-dev/cs101 created: "
                         "repositories are created on push, keeping the newest 4 images")

    def test_a_dockerhub_hub_has_nothing_to_prepare(self, dynamodb, settings, hub, record):
        from tests.chalicelib.fakes import FakeEcr

        ecr = FakeEcr()
        result = provisioning.prepare_registry(ecr, dynamodb, settings, hub("Prepare the image registry"))
        assert result == {"registry": "dockerhub", "image_prefix": "coursehub/cs101-"} and ecr.calls == []


def ecr_request_json(data):
    """``data`` as an ECR hub's request is stored."""
    from chalicelib.hub_request import HubRequest

    return HubRequest.stored({**data, "registry": "ecr"}).model_dump(mode="json")
