"""The moto internals the stack patches still exist in the pinned moto (fails first on an upgrade)."""
import importlib

import moto
import pytest

TARGETS = [
    ("moto.awslambda_simple.models", "LambdaSimpleBackend", "invoke"),
    ("moto.stepfunctions.parser.asl.component.common.retry.retrier_decl", None, "time"),
    ("moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function", "WaitFunction",
     "_wait_interval"),
    ("moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp", "Timestamp",
     "_get_wait_seconds"),
    ("moto.stepfunctions.parser.models", "StepFunctionsParserBackend", "start_execution"),
    ("moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service", "StateTaskService",
     "_normalise_parameters"),
    ("moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service", "StateTaskService",
     "_from_boto_response"),
    ("moto.scheduler.models", None, "unix_time"),
    ("moto.eks.models", "EKSBackend", "update_nodegroup_config"),
    ("moto.eks.urls", None, "url_paths"),
    ("moto.eks.responses", "EKSResponse", "create_cluster"),
    ("moto.route53.models", "FakeZone", "delete_rrset"),
    ("moto.elb.models", "ELBBackend", "describe_instance_health"),
    ("moto.elb.models", "ELBBackend", "delete_load_balancer_listeners"),
    ("moto.elbv2.models", "FakeTargetGroup", "health_for"),
    ("moto.stepfunctions.parser.backend.execution", "Execution", "start"),
    ("moto.stepfunctions.parser.backend.execution", "Execution", "stop"),
    ("moto.stepfunctions.parser.backend.execution", "BaseExecutionWorkerCommunication", "terminated"),
    ("moto.stepfunctions.parser.asl.eval.program_state", None, "ProgramStopped"),
    ("moto.stepfunctions.parser.asl.eval.environment", "Environment", "set_error"),
    ("moto.events.models", "EventPattern", "matches_event"),
]


def test_moto_is_the_pinned_version():
    assert moto.__version__ == "5.2.5"


@pytest.mark.parametrize("module, owner, name", TARGETS)
def test_patched_attribute_exists(module, owner, name):
    target = importlib.import_module(module)
    if owner:
        target = getattr(target, owner)
    assert hasattr(target, name)
