"""Each teardown step: what it deletes, what it treats as already done, what it records on the hub, what it raises.

Every test runs on the in-memory hub table and on moto's DynamoDB (``dynamodb``); EKS, schedules and helm/kubectl
are fakes (tests/chalicelib/fakes.py); Route53 is moto's; the audit (tests/chalicelib/test_audit.py) is replaced
by what it would find.
"""

import pytest

from chalicelib import audit, hub_records, teardown
from chalicelib.eks_cluster import ClusterBusy, ClusterFailed, NodegroupBusy
from chalicelib.errors import InvalidEvent
from chalicelib.teardown import CloudResourcesRemain, ClusterStillExists, NodegroupStillExists
from tests.chalicelib.conftest import HUB
from tests.chalicelib.fakes import FakeEks, FakeScheduler
from tests.chalicelib.test_provisioning import running, succeeded

CLUSTER = "coursehub-dev-cs101"
HOSTS = ["binder.courses.example.edu", "hub.binder.courses.example.edu"]


class TestRecordTheHubAsRetiring:
    def test_the_hub_is_retiring_with_the_runs_reason_and_its_steps_cleared(self, dynamodb, settings, hub, record):
        hub_records.step_started(dynamodb, settings.hub_table_name, HUB, "Create the cluster")
        state = teardown.start(dynamodb, settings, {"hub_id": HUB, "execution": "arn:run",
                                                    "input": {"hub_id": HUB, "reason": "the term ended"}})
        stored = record()
        assert (stored["status"], stored["retire_reason"], stored["steps"], stored["current_step"]) == (
            "RETIRING", "the term ended", {}, None)
        assert (stored["workflow"], stored["execution_arn"]) == ("teardown", "arn:run")
        assert state["request"] == stored["request"] and state["hub"]["cluster"] == CLUSTER
        assert teardown.start(dynamodb, settings, {"hub_id": HUB})["reason"] == "retired on request"

    def test_a_hub_recorded_before_stages_were_in_names_is_retired_with_its_old_cluster(self, dynamodb, settings,
                                                                                       request_data):
        hub_records.create(dynamodb, settings.hub_table_name, "hub-old", request_data)  # no "cluster" field
        assert teardown.start(dynamodb, settings, {"hub_id": "hub-old"})["hub"]["cluster"] == "coursehub-cs101"

    def test_a_hub_never_recorded_cannot_be_retired(self, dynamodb, settings):
        with pytest.raises(hub_records.HubNotFound):
            teardown.start(dynamodb, settings, {"hub_id": "hub-unknown"})

    def test_a_malformed_hub_id_is_refused(self, dynamodb, settings):
        with pytest.raises(InvalidEvent, match="hub_id"):
            teardown.start(dynamodb, settings, {"hub_id": "Hub One"})


class TestUninstallReleases:
    def test_binderhub_goes_first_then_cert_manager_then_the_ingress_and_their_namespaces(self, eks, dynamodb,
                                                                                         settings, hub, record,
                                                                                         runner):
        eks.add_cluster(CLUSTER, HUB)
        for release in ("nginx-ingress", "cert-manager", "binderhub"):
            runner.history[release] = [{"revision": 1, "status": "deployed"}]
        clients = {"eks": eks}.get
        result = teardown.uninstall_releases(clients, dynamodb, settings, hub("Uninstall the releases"))
        assert result == {"uninstalled": ["binderhub", "cert-manager", "nginx-ingress"], "cluster": "active"}
        assert [c[1:3] for c in runner.commands if c[1] == "uninstall"] == [
            ("uninstall", "binderhub"), ("uninstall", "cert-manager"), ("uninstall", "nginx-ingress")]
        assert ("kubectl", "delete", "namespace", "binderhub", "cert-manager", "ingress", "--ignore-not-found",
                "--wait=false") in runner.commands
        assert succeeded(record(), "Uninstall the releases", "binderhub, cert-manager, nginx-ingress")
        again = teardown.uninstall_releases(clients, dynamodb, settings, hub("Uninstall the releases"))
        assert again["uninstalled"] == [] and succeeded(record(), "Uninstall the releases", "nothing installed")

    @pytest.mark.parametrize("status", [None, "CREATING", "DELETING"])
    def test_without_an_active_cluster_there_is_nothing_to_uninstall(self, eks, dynamodb, settings, hub, record,
                                                                     runner, status):
        if status:
            eks.add_cluster(CLUSTER, HUB, status=status)
        result = teardown.uninstall_releases({"eks": eks}.get, dynamodb, settings, hub("Uninstall the releases"))
        assert result == {"uninstalled": [], "cluster": "absent"} and runner.commands == []
        assert succeeded(record(), "Uninstall the releases", "no active cluster")


class TestCheckReleased:
    STEP = "Check the load balancers and volumes are gone"

    @pytest.fixture
    def left(self, eks, monkeypatch):
        """What the audit would find of the cluster's load balancers and volumes."""
        eks.add_cluster(CLUSTER, HUB)
        found = {"classic_load_balancers": [], "load_balancers": [], "volumes": []}
        asked = []
        monkeypatch.setattr(audit, "find", lambda clients, cluster, kinds: asked.append((cluster, kinds)) or found)
        found["asked"] = asked
        return found

    def test_what_remains_is_waited_for_until_the_last_check(self, eks, dynamodb, settings, hub, record, left):
        left["volumes"] = ["vol-1"]
        clients = {"eks": eks}.get
        with pytest.raises(CloudResourcesRemain, match="vol-1"):
            teardown.check_released(clients, dynamodb, settings, hub(self.STEP, attempt=3, attempts=12))
        assert running(record(), self.STEP)
        assert left.pop("asked") == [(CLUSTER, teardown.RELEASED_KINDS)]
        result = teardown.check_released(clients, dynamodb, settings, hub(self.STEP, attempt=12, attempts=12))
        assert result == {"released": False, "remaining": {"volumes": ["vol-1"]}}
        assert succeeded(record(), self.STEP, "still in AWS after 13 checks, left to the audit")

    def test_nothing_left_is_released(self, eks, dynamodb, settings, hub, record, left):
        left.pop("asked")
        result = teardown.check_released({"eks": eks}.get, dynamodb, settings, hub(self.STEP, attempt=0, attempts=12))
        assert result == {"released": True, "remaining": {}} and succeeded(record(), self.STEP)

    def test_without_an_active_cluster_the_audit_checks(self, dynamodb, settings, hub, record, monkeypatch):
        monkeypatch.setattr(audit, "find", lambda *a, **k: pytest.fail("no cluster deletes anything: nothing to wait"))
        result = teardown.check_released({"eks": FakeEks()}.get, dynamodb, settings, hub(self.STEP))
        assert result == {"released": False}
        assert succeeded(record(), self.STEP, "no active cluster; the audit checks")


class TestDeleteDns:
    def test_the_hubs_records_are_deleted_and_a_rerun_finds_none(self, aws, dynamodb, settings, hub, record):
        route53 = aws("route53")
        zone = route53.create_hosted_zone(Name="courses.example.edu", CallerReference="1")["HostedZone"]["Id"]
        zone = zone.split("/")[-1]
        route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
            {"Action": "CREATE", "ResourceRecordSet": {"Name": host, "Type": "CNAME", "TTL": 60,
                                                       "ResourceRecords": [{"Value": "lb-1.elb.amazonaws.com"}]}}
            for host in [*HOSTS, "other.courses.example.edu"]]})
        result = teardown.delete_dns(route53, dynamodb, settings, hub("Delete the DNS records"))
        assert result == {"zone_id": zone, "deleted": HOSTS}
        left = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        assert [r["Name"] for r in left if r["Type"] == "CNAME"] == ["other.courses.example.edu."]
        assert succeeded(record(), "Delete the DNS records", ", ".join(HOSTS))
        assert teardown.delete_dns(route53, dynamodb, settings, hub("Delete the DNS records"))["deleted"] == []
        assert succeeded(record(), "Delete the DNS records", "no records")

    def test_without_a_zone_there_is_nothing_to_delete(self, aws, dynamodb, settings, hub, record):
        result = teardown.delete_dns(aws("route53"), dynamodb, settings, hub("Delete the DNS records"))
        assert result == {"zone_id": None, "deleted": []}
        assert succeeded(record(), "Delete the DNS records", "no records")


class TestNodegroup:
    def test_delete_starts_the_deletion_and_a_rerun_while_deleting_goes_on(self, eks, dynamodb, settings, hub, record):
        eks.nodegroups[CLUSTER] = {"nodegroupName": "workers", "status": "ACTIVE"}
        assert teardown.delete_nodegroup(eks, dynamodb, settings, hub("Delete the node group")) == {
            "nodegroup": "deleting"}
        assert eks.deleted == ["nodegroup workers"] and eks.nodegroups[CLUSTER]["status"] == "DELETING"
        assert teardown.delete_nodegroup(eks, dynamodb, settings, hub("Delete the node group")) == {
            "nodegroup": "deleting"}
        assert eks.deleted == ["nodegroup workers"] and succeeded(record(), "Delete the node group", "deleting")

    def test_a_node_group_being_updated_is_busy(self, eks, dynamodb, settings, hub, record):
        eks.nodegroups[CLUSTER] = {"nodegroupName": "workers", "status": "UPDATING"}
        with pytest.raises(NodegroupBusy, match="UPDATING"):
            teardown.delete_nodegroup(eks, dynamodb, settings, hub("Delete the node group"))
        assert eks.deleted == [] and running(record(), "Delete the node group")

    def test_a_node_group_already_gone_is_done(self, eks, dynamodb, settings, hub, record):
        assert teardown.delete_nodegroup(eks, dynamodb, settings, hub("Delete the node group")) == {
            "nodegroup": "already gone"}
        assert succeeded(record(), "Delete the node group", "already gone")

    def test_the_check_waits_until_it_is_gone_and_fails_when_the_deletion_failed(self, eks, dynamodb, settings, hub,
                                                                                record):
        eks.nodegroups[CLUSTER] = {"nodegroupName": "workers", "status": "DELETING"}
        with pytest.raises(NodegroupStillExists, match="DELETING"):
            teardown.check_nodegroup_deleted(eks, dynamodb, settings, hub("Check the node group is deleted"))
        assert running(record(), "Check the node group is deleted")
        eks.nodegroups[CLUSTER]["status"] = "DELETE_FAILED"
        with pytest.raises(ClusterFailed, match="DELETE_FAILED"):
            teardown.check_nodegroup_deleted(eks, dynamodb, settings, hub("Check the node group is deleted"))
        del eks.nodegroups[CLUSTER]
        assert teardown.check_nodegroup_deleted(eks, dynamodb, settings, hub("Check the node group is deleted")) == {
            "nodegroup": "deleted"}
        assert succeeded(record(), "Check the node group is deleted")


class TestCluster:
    def test_delete_starts_the_deletion_once(self, eks, dynamodb, settings, hub, record):
        eks.add_cluster(CLUSTER, HUB)
        assert teardown.delete_cluster(eks, dynamodb, settings, hub("Delete the cluster")) == {"cluster": "deleting"}
        assert teardown.delete_cluster(eks, dynamodb, settings, hub("Delete the cluster")) == {"cluster": "deleting"}
        assert eks.deleted == [f"cluster {CLUSTER}"] and succeeded(record(), "Delete the cluster", "deleting")

    def test_a_cluster_already_gone_is_done(self, eks, dynamodb, settings, hub, record):
        assert teardown.delete_cluster(eks, dynamodb, settings, hub("Delete the cluster")) == {
            "cluster": "already gone"}
        assert succeeded(record(), "Delete the cluster", "already gone")

    def test_another_hubs_cluster_is_never_deleted(self, eks, dynamodb, settings, hub, record):
        eks.add_cluster(CLUSTER, "hub-other")
        with pytest.raises(ClusterFailed, match="does not belong to hub hub-cs101"):
            teardown.delete_cluster(eks, dynamodb, settings, hub("Delete the cluster"))
        assert eks.deleted == [] and running(record(), "Delete the cluster")

    def test_another_stages_cluster_of_the_same_hub_id_is_never_deleted(self, eks, dynamodb, settings, hub, record):
        eks.add_cluster(CLUSTER, HUB, stage="prod")
        with pytest.raises(ClusterFailed, match="belongs to stage prod, not dev"):
            teardown.delete_cluster(eks, dynamodb, settings, hub("Delete the cluster"))
        assert eks.deleted == [] and running(record(), "Delete the cluster")

    def test_the_cluster_the_workflow_names_is_the_one_deleted(self, eks, dynamodb, settings, hub):
        eks.add_cluster("coursehub-cs101", HUB)
        eks.add_cluster(CLUSTER, HUB)
        teardown.delete_cluster(eks, dynamodb, settings, hub("Delete the cluster", cluster="coursehub-cs101"))
        assert eks.deleted == ["cluster coursehub-cs101"]

    def test_a_cluster_still_being_created_is_deleted_later(self, eks, dynamodb, settings, hub):
        eks.add_cluster(CLUSTER, HUB, status="CREATING")
        with pytest.raises(ClusterBusy, match="CREATING"):
            teardown.delete_cluster(eks, dynamodb, settings, hub("Delete the cluster"))
        assert eks.deleted == []

    def test_the_check_waits_until_the_cluster_is_gone(self, eks, dynamodb, settings, hub, record):
        eks.add_cluster(CLUSTER, HUB, status="DELETING")
        with pytest.raises(ClusterStillExists, match="DELETING"):
            teardown.check_cluster_deleted(eks, dynamodb, settings, hub("Check the cluster is deleted"))
        assert running(record(), "Check the cluster is deleted")
        del eks.clusters[CLUSTER]
        assert teardown.check_cluster_deleted(eks, dynamodb, settings, hub("Check the cluster is deleted")) == {
            "cluster": "deleted"}
        assert succeeded(record(), "Check the cluster is deleted")


class TestSchedulesAuditAndRetired:
    def test_only_the_hubs_schedules_are_deleted(self, dynamodb, settings, hub, record):
        scheduler = FakeScheduler()
        for name in ("hub-cs101-teardown", "hub-cs101-scale-up", "hub-cs101x-teardown", "hub-other-teardown"):
            scheduler.schedules["coursehub-dev", name] = {}
        result = teardown.delete_schedules(scheduler, dynamodb, settings, hub("Delete the schedules"))
        assert result == {"deleted": ["hub-cs101-scale-up", "hub-cs101-teardown"]}
        assert sorted(name for _, name in scheduler.schedules) == ["hub-cs101x-teardown", "hub-other-teardown"]
        assert succeeded(record(), "Delete the schedules", "hub-cs101-scale-up, hub-cs101-teardown")
        assert teardown.delete_schedules(scheduler, dynamodb, settings, hub("Delete the schedules")) == {"deleted": []}
        assert succeeded(record(), "Delete the schedules", "none")

    def test_the_audit_looks_in_the_domains_zone_and_its_summary_is_recorded(self, aws, dynamodb, settings, hub,
                                                                             record, monkeypatch):
        route53 = aws("route53")
        zone = route53.create_hosted_zone(Name="example.edu", CallerReference="1")["HostedZone"]["Id"].split("/")[-1]
        asked = []
        found = {"clean": False, "found": {"volumes": ["vol-1"]}, "cleaned": {}, "remaining": {"volumes": [
            {"id": "vol-1", "reason": "in-use"}]}, "summary": "volumes: vol-1; 0 cleaned; vol-1 remains (in-use)"}
        monkeypatch.setattr(audit, "audit", lambda clients, **given: asked.append(given) or found)
        result = teardown.audit_hub({"route53": route53}.get, dynamodb, settings, hub("Audit what is left"))
        assert result is found
        assert asked == [{"cluster": CLUSTER, "hub_id": HUB, "hosts": HOSTS, "zone_id": zone,
                          "schedule_group": settings.schedule_group, "stage": "dev", "registry_prefix": "",
                          "keep_images": False}]  # a DockerHub hub: nothing of it in ECR
        assert succeeded(record(), "Audit what is left", found["summary"])

    def test_retired_records_the_audit_and_no_schedules(self, dynamodb, settings, hub, record):
        hub_records.update(dynamodb, settings.hub_table_name, HUB, schedules={"hub-cs101-teardown": {}})
        audit_result = {"clean": True, "found": {}, "cleaned": {}, "remaining": {}, "summary": "nothing left behind",
                        "extra": "not kept"}
        result = teardown.retired(dynamodb, settings, hub("Record the hub as retired", audit=audit_result))
        assert result == {"clean": True, "summary": "nothing left behind"}
        stored = record()
        assert (stored["status"], stored["schedules"]) == ("RETIRED", {})
        assert stored["audit"] == {k: audit_result[k] for k in ("clean", "found", "cleaned", "remaining", "summary")}
        assert "Record the hub as retired" not in stored["steps"]  # it records the status, not a step


class TestImageRepositories:
    def test_an_ecr_hubs_repositories_go_or_stay_as_asked_and_the_summary_says_which(self, dynamodb, settings, hub,
                                                                                     record):
        from tests.chalicelib.fakes import FakeEcr
        from tests.chalicelib.test_hub_request import ECR
        from tests.chalicelib.test_provisioning import ecr_request_json

        for archive, summary in ((True, "kept in ECR as asked (1): coursehub-dev/cs101/binder-a"),
                                 (False, "1 ECR repository deleted, template already gone")):
            ecr = FakeEcr()
            ecr.repositories = ["coursehub-dev/cs101/binder-a"]
            request = {**ecr_request_json(ECR), "archive_images": archive}
            result = teardown.delete_registry(ecr, dynamodb, settings, {**hub("Delete the image repositories"),
                                                                        "request": request})
            assert result["summary"] == summary
            assert ecr.repositories == (["coursehub-dev/cs101/binder-a"] if archive else [])
            assert succeeded(record(), "Delete the image repositories", summary)

    def test_a_dockerhub_hubs_images_are_not_ours_to_delete(self, dynamodb, settings, hub):
        from tests.chalicelib.fakes import FakeEcr

        ecr = FakeEcr()
        result = teardown.delete_registry(ecr, dynamodb, settings, hub("Delete the image repositories"))
        assert result["summary"] == "left on DockerHub under coursehub/cs101-" and ecr.calls == []
