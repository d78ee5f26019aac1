"""The stage is in every name and tag a hub's AWS resources get, and ownership needs both the hub and the stage."""
import pytest

from chalicelib import hub_names, hub_records
from chalicelib.hub_request import DNS_LABEL


def test_a_cluster_is_named_for_the_stage_and_the_course():
    assert hub_names.cluster_name("dev", "cs101") == "coursehub-dev-cs101"
    assert hub_names.cluster_name("prod", "cs101") != hub_names.cluster_name("dev", "cs101")


def test_the_longest_stage_and_course_id_fit_the_eks_limit():
    longest_course = "c" * 30  # DNS_LABEL allows 30 characters
    assert DNS_LABEL.endswith("{0,28}[a-z0-9])?$")
    assert len(hub_names.cluster_name("s" * 20, longest_course)) <= hub_names.EKS_CLUSTER_NAME_MAX
    with pytest.raises(ValueError, match="longer than EKS allows"):
        hub_names.cluster_name("s" * 20, "c" * 80)


def test_the_longest_schedule_name_fits_the_schedulers_limit():
    longest = "h" * 48  # hub_records.HUB_ID
    assert hub_records.HUB_ID.match(longest) and not hub_records.HUB_ID.match(longest + "h")
    assert len(f"{longest}-scale-down") <= 64  # EventBridge Scheduler: Name, 1 to 64 characters


@pytest.mark.parametrize("stage", ["dev", "prod", "s" * 20, "eu2"])
def test_stages_that_make_valid_names(stage):
    assert hub_names.STAGE.match(stage)


@pytest.mark.parametrize("stage", ["", "Prod", "dev-eu", "2dev", "s" * 21, "dev\n"])
def test_stages_that_would_not(stage):
    assert not hub_names.STAGE.fullmatch(stage)


def test_no_stage_is_a_prefix_of_another_stages_cluster_names():
    # "coursehub-dev-" must not be how a cluster of stage "dev-eu" begins: stages have no "-".
    assert not hub_names.cluster_name("deveu", "x").startswith(hub_names.stage_of_cluster_prefix("dev"))


def test_a_record_names_its_cluster_and_an_older_record_gets_the_name_its_hub_was_given():
    request = {"course_id": "cs101"}
    assert hub_names.recorded_cluster({"request": request, "cluster": "coursehub-prod-cs101"}) == \
        "coursehub-prod-cs101"
    assert hub_names.recorded_cluster({"request": request}) == "coursehub-cs101"


def test_every_resource_gets_the_hub_the_stage_and_the_course():
    assert hub_names.tags("dev", "hub-1", "cs101") == {"coursehub:hub": "hub-1", "coursehub:stage": "dev",
                                                       "coursehub:course": "cs101"}


def test_a_resource_is_this_stages_hubs_only_with_both_tags():
    mine = hub_names.tags("dev", "hub-1", "cs101")
    assert hub_names.owner_problem(mine, stage="dev", hub_id="hub-1") is None
    assert hub_names.owner_problem(mine, stage="prod", hub_id="hub-1") == "it belongs to stage dev, not prod"
    assert hub_names.owner_problem(mine, stage="dev", hub_id="hub-2") == "it does not belong to hub hub-2"
    assert "(none)" in hub_names.owner_problem({"coursehub:hub": "hub-1"}, stage="dev", hub_id="hub-1")


def test_the_audit_may_delete_what_carries_the_stage_tag_or_a_security_group_of_a_cluster_of_the_stage():
    assert hub_names.stage_problem({"coursehub:stage": "dev"}, "dev") is None
    eks_group = {"aws:eks:cluster-name": "coursehub-dev-cs101"}
    assert hub_names.stage_problem(eks_group, "dev", security_group=True) is None
    assert hub_names.stage_problem(eks_group, "dev") is not None  # the policy allows that tag for groups only
    assert hub_names.stage_problem({"aws:eks:cluster-name": "coursehub-deveu-cs101"}, "dev",
                                   security_group=True) is not None
    assert hub_names.stage_problem({"KubernetesCluster": "coursehub-dev-cs101"}, "dev") is not None
    assert hub_names.stage_problem({"coursehub:stage": "prod"}, "dev") == "tagged for stage prod; left alone"
    assert "not tagged coursehub:stage=dev" in hub_names.stage_problem({"aws:eks:cluster-name": "coursehub-x"}, "dev",
                                                                       security_group=True)
    assert "not tagged" in hub_names.stage_problem({"kubernetes.io/cluster/coursehub-dev-cs101": "owned"}, "dev")


def test_tags_are_written_as_the_load_balancer_annotation_reads_them():
    assert hub_names.annotation_value(hub_names.tags("dev", "hub-1", "cs101")) == \
        "coursehub:hub=hub-1,coursehub:stage=dev,coursehub:course=cs101"
    with pytest.raises(ValueError, match="annotation"):
        hub_names.annotation_value({"team": "a,b"})
