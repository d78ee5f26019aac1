"""The hub's database volume end to end: without the storage add-ons the run fails at a named step; with them the
hub's claim is Bound to an EBS volume the audit finds by its tags, and the teardown leaves none."""
import json
import uuid

from chalicelib import audit, hub_records
from tests.local.test_provision_workflow import hub_request, provision
from tests.local.test_teardown_workflow import record_of, teardown


def clients_of(stack):
    return lambda service: stack.client(service)


def test_when_eks_refuses_the_addon_the_run_fails_at_the_storage_step_with_the_cause_on_slack(stack):
    course = f"e{uuid.uuid4().hex[:6]}"
    hub_id = f"hub-{course}"
    before = len(stack.slack.messages())
    refused = stack.faults.inject("eks", "CreateAddon", times=100, code="AccessDeniedException", status=403,
                                  message="User is not authorized to perform: eks:CreateAddon")
    try:
        described, _ = provision(stack, hub_id, hub_request(stack, course))
    finally:
        stack.faults.clear()
    assert refused.answered >= 1
    assert described["status"] == "FAILED" and described["error"] == "ProvisioningFailed"
    record = hub_records.get(stack.client("dynamodb"), stack.seeded.environment["HUB_TABLE_NAME"], hub_id)
    assert record["status"] == "FAILED"
    assert record["error"]["step"] == "Create the storage add-ons"
    assert "AccessDeniedException" in record["error"]["cause"] and "eks:CreateAddon" in record["error"]["cause"]
    assert record["steps"]["Check the node group is active"]["outcome"] == "SUCCEEDED"
    text = stack.slack.texts()[before:][-1]
    assert text.startswith(f'Provisioning {hub_id} failed at step "Create the storage add-ons"')
    assert "eks:CreateAddon" in text


def test_a_ready_hub_keeps_its_database_on_a_tagged_ebs_volume_that_the_teardown_removes(stack):
    course = f"d{uuid.uuid4().hex[:6]}"
    hub_id, cluster = f"hub-{course}", f"coursehub-{stack.config.stage}-{course}"
    described, _ = provision(stack, hub_id, hub_request(stack, course))
    assert described["status"] == "SUCCEEDED", described.get("cause")
    record = hub_records.get(stack.client("dynamodb"), stack.seeded.environment["HUB_TABLE_NAME"], hub_id)
    assert record["steps"]["Create the storage add-ons"]["detail"] == \
        "eks-pod-identity-agent created, aws-ebs-csi-driver created"
    eks = stack.client("eks")
    assert {eks.describe_addon(clusterName=cluster, addonName=a)["addon"]["status"]
            for a in ("eks-pod-identity-agent", "aws-ebs-csi-driver")} == {"ACTIVE"}
    nodegroup = eks.describe_nodegroup(clusterName=cluster, nodegroupName="workers")["nodegroup"]
    zones = {s["AvailabilityZone"] for s in stack.client("ec2").describe_subnets(
        SubnetIds=nodegroup["subnets"])["Subnets"]}
    assert len(zones) == 1  # one zone: the volume's

    store = stack.clusters.server(cluster).store
    [claim] = [c for c in store.list(store.resource_type("v1", "PersistentVolumeClaim"))[0]
               if c["metadata"]["name"] == "hub-db-dir"]
    assert claim["status"]["phase"] == "Bound" and claim["spec"]["storageClassName"] == "ebs-csi-default-sc"
    pv = store.get_object("v1", "PersistentVolume", None, claim["spec"]["volumeName"])
    [volume] = stack.client("ec2").describe_volumes(VolumeIds=[pv["spec"]["csi"]["volumeHandle"]])["Volumes"]
    tags = {t["Key"]: t["Value"] for t in volume["Tags"]}
    assert tags[f"kubernetes.io/cluster/{cluster}"] == "owned" and tags["coursehub:hub"] == hub_id
    assert tags["kubernetes.io/created-for/pvc/name"] == "hub-db-dir" and volume["AvailabilityZone"] in zones
    found = audit.find(clients_of(stack), cluster=cluster, kinds=("volumes",))
    assert found["volumes"] == [volume["VolumeId"]]

    described, _ = teardown(stack, hub_id)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    retired = record_of(stack, hub_id)
    assert retired["status"] == "RETIRED" and retired["audit"]["clean"], json.dumps(retired["audit"])
    assert retired["audit"]["cleaned"].get("volumes", []) == []  # the driver deleted it, not the audit
    assert audit.find(clients_of(stack), cluster=cluster, kinds=("volumes",)) == {"volumes": []}
