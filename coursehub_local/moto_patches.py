"""Every use the local stack makes of moto's private internals, in one place.

The rest of ``coursehub_local`` reads moto's state through the functions at the end (each service's backend,
its errors, the server application, the reset) and imports nothing of moto but its public API.
Pinned to moto 5.2.5 (``requirements-dev.txt``); ``tests/local/test_moto_patches.py`` reads from this
file every moto name it imports, reads or replaces, and fails first if an upgrade moves any of them:

- Lambda invokes (``LambdaSimpleBackend.invoke``) run the real handlers;
- a Task whose Resource is a function's ARN reports Lambda's refusal of the Invoke (throttling, a service
  error) as ``Lambda.<error code>``, as Step Functions does (moto 5.2.5 reports ``Exception``);
- Step Functions Retry intervals and Wait states sleep on the stack's clock;
- Scheduler records creation and modification at the stack's time (so a schedule made after
  ``clock.advance()`` does not fire the occurrences it "missed");
- EKS create/delete/update take time (``eks.EksLifecycle``), access entries, add-ons and Pod Identity
  associations exist (``access_entries``, ``eks_addons``);
- EKS CreateCluster passes ``accessConfig`` on to the backend (moto 5.2.5 drops it), where
  ``eks_cluster_rules`` checks it and the version as EKS does;
- Route53 rejects deleting a record that does not exist, as AWS does;
- an execution started without a name gets a UUID, as on AWS (moto 5.2.5 names it "None");
- service integrations (e.g. ``states:startExecution``) pass their Parameters to the service in its own
  casing and give back its answer in Step Functions' casing with ISO dates, as Step Functions does
  (moto 5.2.5 sends ``StateMachineArn`` where boto expects ``stateMachineArn``, and cannot store a date);
- ELB instance health and NLB target health follow the local clusters' Services and workloads
  (``cluster.instance_health``; moto calls every running instance InService / healthy);
- executions report their status changes (``execution_events``: start, end, stop) and StopExecution makes
  an execution ABORTED at once, with its stopDate, for good (moto 5.2.5 answers without a stopDate, keeps it
  RUNNING until the engine next looks at it, and lets a Task still running when it was stopped fail it);
- ``event_pattern_matches`` reads moto's own EventBridge pattern matching for the stack's event bus;
- DynamoDB transactions are isolated from other reads and writes, as on DynamoDB (moto 5.2.5 rolls a cancelled
  transaction back by restoring a copy of the whole table taken when it began, which undoes other requests'
  writes made meanwhile);
- IAM has the AWS managed policies the deployment attaches (``AmazonEBSCSIDriverPolicy``), as on AWS; moto 5.2.5
  has none unless told to load all ~1,600, which makes every backend reset take half a second during which the
  half-built IAM backend fails requests made meanwhile (``IAMBackend.access_keys`` is set after them).
- ECR has repository creation templates (Create/Describe/Update/DeleteRepositoryCreationTemplate, which moto 5.2.5
  lacks) and GetAuthorizationToken issues a new password each call, valid 12 hours of the stack's clock (moto
  5.2.5 gives one fixed token that expired in 2015); ``ecr_registry`` keeps both per account and region on moto's
  ECR backend, and ``ecr_push`` plays docker pushes against them (a repository created on push from its template).
"""
from __future__ import annotations

import threading
import time
import types
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # the stand-in's modules reach moto through this one: no import of them at run time
    from coursehub_local.access_entries import AccessEntries
    from coursehub_local.clock import Clock
    from coursehub_local.dispatch import LambdaDispatcher
    from coursehub_local.eks import EksLifecycle
    from coursehub_local.eks_addons import EksAddons
    from coursehub_local.execution_events import ExecutionEvents, ExecutionSnapshot

_originals: list[tuple[Any, str, Any]] = []
_ABSENT = object()  # what ``uninstall`` restores an attribute moto did not have to: none
_ecr_lock = threading.Lock()
AWS_MANAGED_POLICIES = ("AmazonEBSCSIDriverPolicy",)


def _replace(owner: Any, name: str, value: Any) -> None:
    _originals.append((owner, name, getattr(owner, name)))
    setattr(owner, name, value)


def install(clock: Clock, dispatcher: LambdaDispatcher, eks: EksLifecycle, access: AccessEntries,
            execution_events: ExecutionEvents, addons: EksAddons | None = None) -> None:
    """Apply every patch (once per stack; ``uninstall`` reverts them)."""
    if _originals:
        raise RuntimeError("moto is already patched by a running local stack")
    _dispatch_lambda_invokes(dispatcher)
    _lambda_service_errors_by_name()
    _sleep_on_clock(clock)
    _schedules_on_clock(clock)
    _slow_eks(eks)
    _eks_access_config()
    _serve_access_entries(access, addons)
    _strict_route53_deletes()
    _delete_every_listener_named()
    _name_unnamed_executions()
    _case_service_integration_parameters()
    _judge_load_balancer_health()
    _report_execution_status(execution_events)
    _isolated_dynamodb_transactions()
    _paged_execution_history()
    _aws_managed_policies(AWS_MANAGED_POLICIES)
    _ecr_templates_and_tokens(clock)


def uninstall() -> None:
    """Restore moto as it was."""
    while _originals:
        owner, name, value = _originals.pop()
        if value is _ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, value)


def _add(owner: Any, name: str, value: Any) -> None:
    """Give ``owner`` an attribute moto lacks (an API action it does not implement)."""
    if hasattr(owner, name):
        raise RuntimeError(f"moto now has {owner.__name__}.{name}: use or wrap it instead")
    _originals.append((owner, name, _ABSENT))
    setattr(owner, name, value)


def _dispatch_lambda_invokes(dispatcher: LambdaDispatcher) -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        function = self.get_function(function_name, qualifier)  # unknown names fail as on AWS
        return dispatcher.invoke(function.function_name, body, function.memory_size,
                                 function.timeout, function.function_arn, response_headers)

    _replace(LambdaSimpleBackend, "invoke", invoke)


def _paged_execution_history() -> None:
    """GetExecutionHistory honours ``reverseOrder`` and pages by ``maxResults`` with ``nextToken``.

    Step Functions API reference, GetExecutionHistory: "reverseOrder: Lists events in descending order of their
    timeStamp"; "maxResults: The maximum number of results that are returned per call ... The default is 100 and
    the maximum allowed page size is 1000"; "nextToken: If nextToken is returned, there are more results
    available". moto 5.2.5 returns every event oldest first whatever is asked.
    """
    import base64

    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    original = StepFunctionResponse.get_execution_history

    def get_execution_history(self):
        events = list(original(self).result["events"])
        if self._get_param("reverseOrder"):
            events.reverse()
        size = int(self._get_param("maxResults") or 100) or 100  # 0 means the default
        token = self._get_param("nextToken")
        start = int(base64.b64decode(token)) if token else 0
        page = {"events": events[start:start + size]}
        if start + size < len(events):
            page["nextToken"] = base64.b64encode(str(start + size).encode()).decode()
        return ActionResult(page)

    _replace(StepFunctionResponse, "get_execution_history", get_execution_history)


def _lambda_service_errors_by_name() -> None:
    """Lambda's own errors in a Task calling a function by ARN are named ``Lambda.<code>``, e.g.
    ``Lambda.TooManyRequestsException`` when Lambda throttles the Invoke, so an ASL Retry on them matches.

    https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html: "Lambda errors are
    reported as Lambda.ErrorName" ... "When Lambda hits the maximum number of invocations, the error is
    Lambda.TooManyRequestsException". moto 5.2.5 names them so for ``arn:aws:states:::lambda:invoke`` Tasks
    (``StateTaskServiceLambda``) but ``Exception`` for the function-ARN form (``StateTaskLambda``).
    """
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
        StateTaskServiceLambda,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = StateTaskLambda._from_error

    def from_error(self, env, ex):
        if not isinstance(ex, ClientError):
            return original(self, env, ex)
        error, cause = StateTaskServiceLambda._error_cause_from_client_error(ex)
        return FailureEvent(
            env=env, error_name=CustomErrorName(error), event_type=HistoryEventType.LambdaFunctionFailed,
            event_details=EventDetails(lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(
                error=error, cause=cause)))

    _replace(StateTaskLambda, "_from_error", from_error)


def _sleep_on_clock(clock: Clock) -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp, wait_function

    # Retry intervals: the engine calls time.sleep(interval_seconds) in retrier_decl.
    _replace(retrier_decl, "time", types.SimpleNamespace(sleep=clock.sleep, time=clock.time))

    def wait_interval(self, env, wait_seconds):
        if wait_seconds > 0:
            clock.sleep(wait_seconds, interrupt=env.program_state_event)

    _replace(wait_function.WaitFunction, "_wait_interval", wait_interval)

    original_seconds = timestamp.Timestamp._get_wait_seconds

    def seconds_until(self, env):
        # moto measures against the real clock; measure against the simulated one.
        return int(original_seconds(self, env) - (clock.time() - time.time()))

    _replace(timestamp.Timestamp, "_get_wait_seconds", seconds_until)


def _schedules_on_clock(clock: Clock) -> None:
    import moto.scheduler.models as scheduler_models

    _replace(scheduler_models, "unix_time", lambda: clock.time())  # moto calls it only without arguments


def _slow_eks(eks: EksLifecycle) -> None:
    from moto.eks.models import EKSBackend

    _wrap(EKSBackend, "create_cluster", eks.create_cluster)
    _wrap(EKSBackend, "delete_cluster", eks.delete_cluster)
    _wrap(EKSBackend, "create_nodegroup", eks.create_nodegroup)
    _wrap(EKSBackend, "delete_nodegroup", eks.delete_nodegroup)
    _wrap(EKSBackend, "update_nodegroup_config", eks.update_nodegroup_config)


def _eks_access_config() -> None:
    from moto.core.responses import ActionResult
    from moto.eks.responses import EKSResponse

    params = {"name": "name", "version": "version", "role_arn": "roleArn",
              "resources_vpc_config": "resourcesVpcConfig", "kubernetes_network_config": "kubernetesNetworkConfig",
              "logging": "logging", "client_request_token": "clientRequestToken", "tags": "tags",
              "encryption_config": "encryptionConfig", "remote_network_config": "remoteNetworkConfig",
              "access_config": "accessConfig"}

    def create_cluster(self):  # moto 5.2.5's, with accessConfig
        cluster = self.eks_backend.create_cluster(**{arg: self._get_param(key) for arg, key in params.items()})
        return ActionResult({"cluster": cluster})

    _replace(EKSResponse, "create_cluster", create_cluster)


def _wrap(owner: Any, name: str, hook: Callable) -> None:
    """Replace a method with ``hook(original, self, *args, **kwargs)``."""
    original = getattr(owner, name)

    def method(self, *args, **kwargs):
        return hook(original, self, *args, **kwargs)

    _replace(owner, name, method)


def _isolated_dynamodb_transactions() -> None:
    """One item operation or transaction at a time: "DynamoDB transactions provide serializable isolation" with
    respect to the single-item reads and writes of other requests
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-isolation).
    moto 5.2.5's rollback (the table restored from a copy) would otherwise lose writes made during a transaction."""
    from moto.dynamodb.models import DynamoDBBackend

    serial = threading.RLock()  # a transaction applies its items through the same methods

    def one_at_a_time(original, self, *args, **kwargs):
        with serial:
            return original(self, *args, **kwargs)

    for name in ("put_item", "update_item", "delete_item", "get_item", "query", "scan", "transact_write_items"):
        _wrap(DynamoDBBackend, name, one_at_a_time)


def _serve_access_entries(access: AccessEntries, addons: EksAddons | None = None) -> None:
    from moto.eks import urls

    from coursehub_local.access_entries import ROUTES
    from coursehub_local.eks_addons import ROUTES as ADDON_ROUTES

    paths = dict(urls.url_paths)
    for pattern in ROUTES:
        paths[pattern] = access.handle
    for pattern in ADDON_ROUTES if addons else ():
        paths[pattern] = addons.handle
    _replace(urls, "url_paths", paths)


def _strict_route53_deletes() -> None:
    from moto.route53.exceptions import Route53ClientError
    from moto.route53.models import FakeZone

    original = FakeZone.delete_rrset

    def delete_rrset(self, rrset):
        name = rrset["Name"].rstrip(".").lower() + "."
        kind = rrset.get("Type")
        exists = any(r.name.rstrip(".").lower() + "." == name and (kind is None or r.type == kind)
                     for r in self.rrsets)
        if not exists:
            raise Route53ClientError("InvalidChangeBatch",
                f"Tried to delete resource record set [name='{name}', type='{kind}'] but it was not found")
        return original(self, rrset)

    _replace(FakeZone, "delete_rrset", delete_rrset)


def _delete_every_listener_named() -> None:
    """DeleteLoadBalancerListeners removes every port it is given.

    moto 5.2.5 rebuilds the listener list once per port, so with two ports it keeps both listeners,
    and the CreateLoadBalancerListeners that follows fails with DuplicateListener. AWS's API reference
    (elasticloadbalancing DeleteLoadBalancerListeners): "Deletes the specified listeners from the
    specified load balancer", LoadBalancerPorts "The client port numbers of the listeners".
    """
    from moto.elb.models import ELBBackend

    def delete_load_balancer_listeners(self, name, ports):
        balancer = self.get_load_balancer(name)
        if balancer:
            gone = {int(port) for port in ports}
            balancer.listeners = [l for l in balancer.listeners if int(l.load_balancer_port) not in gone]
        return balancer

    _replace(ELBBackend, "delete_load_balancer_listeners", delete_load_balancer_listeners)


def _name_unnamed_executions() -> None:
    import uuid

    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    def start_execution(self, state_machine_arn, name=None, *args, **kwargs):
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    _replace(StepFunctionsParserBackend, "start_execution", start_execution)


def _case_service_integration_parameters() -> None:
    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService)

    session = botocore.session.get_session()

    def shape(task, which, boto_service_name, service_action_name):
        model = session.get_service_model(task._get_boto_service_name(boto_service_name=boto_service_name))
        action = task._get_boto_service_action(service_action_name=service_action_name)
        operation = next((name for name in model.operation_names if _snake(name) == action), None)
        return getattr(model.operation_model(operation), which) if operation else None

    def normalise(self, parameters, boto_service_name=None, service_action_name=None):
        if (found := shape(self, "input_shape", boto_service_name, service_action_name)) is not None:
            self._to_boto_request(parameters, found)

    def normalise_response(self, response, boto_service_name=None, service_action_name=None):
        if (found := shape(self, "output_shape", boto_service_name, service_action_name)) is not None:
            self._from_boto_response(response, found)
        _dates_as_text(response)

    _replace(StateTaskService, "_normalise_parameters", normalise)
    _replace(StateTaskService, "_normalise_response", normalise_response)


def _dates_as_text(value: Any) -> None:
    import datetime

    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, member in list(items):
        if isinstance(member, datetime.datetime):
            value[key] = member.isoformat()
        else:
            _dates_as_text(member)


def _snake(name: str) -> str:
    from botocore import xform_name

    return xform_name(name)


def _judge_load_balancer_health() -> None:
    from moto.elb.models import ELBBackend
    from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup

    from coursehub_local.cluster import instance_health

    original_instances = ELBBackend.describe_instance_health

    def describe_instance_health(self, lb_name, instances):
        states = original_instances(self, lb_name, instances)
        target = getattr(self.get_load_balancer(lb_name).health_check, "target", "")
        for state in states:
            if state["State"] == "InService" and instance_health.instance_health(lb_name, target) is False:
                state["State"] = "OutOfService"
        return states

    _replace(ELBBackend, "describe_instance_health", describe_instance_health)

    original_target = FakeTargetGroup.health_for

    def health_for(self, target, ec2_backend):
        health = original_target(self, target, ec2_backend)
        if health.status != "healthy":
            return health
        port = health.port if self.health_check_port in (None, "traffic-port") else self.health_check_port
        if instance_health.target_health(self.arn, int(port)) is False:
            return FakeHealthStatus(health.instance_id, health.port, health.health_check_port, "unhealthy",
                                    "Target.FailedHealthChecks", "Health checks failed")
        return health

    _replace(FakeTargetGroup, "health_for", health_for)


def _report_execution_status(events: ExecutionEvents) -> None:
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

    original_set_error = Environment.set_error

    def set_error(self, error):
        # A Task that was running when the execution was stopped must not turn ABORTED into FAILED
        # (moto replaces any program state with the error; it stops or ends only a running program).
        with self._state_mutex:  # re-entrant: the original takes it too
            if not isinstance(self._program_state, ProgramStopped):
                original_set_error(self, error)

    original_start = Execution.start

    def start(self):
        original_start(self)
        # Reported as started even if the engine has already finished it: its end is reported on its own.
        events.changed({**_snapshot(self), "status": "RUNNING", "stopDate": None, "output": None,
                        "error": None, "cause": None})

    original_stop = Execution.stop

    def stop(self, stop_date, error, cause):
        original_stop(self, stop_date, error, cause)
        env = self.exec_worker.env if self.exec_worker else None
        if self.exec_status == ExecutionStatus.RUNNING and env is not None and \
                isinstance(env.program_state(), ProgramStopped):
            self.exec_status = ExecutionStatus.ABORTED
            self.stop_date = datetime.now(timezone.utc)
            events.changed(_snapshot(self))

    original_terminated = BaseExecutionWorkerCommunication.terminated

    def terminated(self):
        execution = self.execution
        aborted_at = execution.stop_date if execution.exec_status == ExecutionStatus.ABORTED else None
        original_terminated(self)
        if aborted_at is not None:  # the engine noticed the stop later; the execution stopped when asked
            execution.stop_date = aborted_at
        events.changed(_snapshot(execution))

    _replace(Environment, "set_error", set_error)
    _replace(Execution, "start", start)
    _replace(Execution, "stop", stop)
    _replace(BaseExecutionWorkerCommunication, "terminated", terminated)


def _snapshot(execution: Any) -> ExecutionSnapshot:
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    compact = (",", ":")
    return {
        "executionArn": execution.exec_arn, "stateMachineArn": execution.state_machine_arn, "name": execution.name,
        "status": execution.exec_status.value, "startDate": execution.start_date, "stopDate": execution.stop_date,
        "input": to_json_str(execution.input_data, separators=compact),
        "output": to_json_str(execution.output, separators=compact) if execution.exec_status.value == "SUCCEEDED"
        else None,
        "error": execution.error, "cause": execution.cause,
        "account": execution.account_id, "region": execution.region_name,
    }


def _aws_managed_policies(names: tuple[str, ...]) -> None:
    import json

    import moto.iam.models as iam_models
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    wanted = {name: data for name, data in json.loads(aws_managed_policies_data).items() if name in names}

    def init_aws_policies(self):
        return [iam_models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
                for name, data in wanted.items()]

    _replace(iam_models.IAMBackend, "_init_aws_policies", init_aws_policies)
    for account in list(iam_models.iam_backends.values()):  # backends made before the stack started
        for backend in list(account.values()):
            for policy in init_aws_policies(backend):
                backend.managed_policies.setdefault(policy.arn, policy)


def _ecr_templates_and_tokens(clock: Clock) -> None:
    """ECR's repository creation template actions and expiring authorization tokens, answered by ``ecr_registry``.

    moto dispatches a JSON action to the ``ECRResponse`` method named in snake case; moto 5.2.5 has none for the
    templates, and its GetAuthorizationToken answers ``AWS:<account>-auth-token`` expiring 2015-01-01.
    """
    from moto.core.responses import ActionResult
    from moto.ecr.exceptions import InvalidParameterException
    from moto.ecr.responses import ECRResponse

    from coursehub_local.ecr_registry import TEMPLATE_FIELDS, EcrApiError, check_registry_ids

    def answer(call: Callable[[], dict]) -> Any:
        try:
            return ActionResult(call())
        except EcrApiError as error:
            # an error of moto's ECR (its module names the service model moto answers it from) with ECR's code
            raise InvalidParameterException(error.code, error.message) from None

    def request(self) -> dict:
        return {name: value for name in ("prefix", *TEMPLATE_FIELDS)
                if (value := self._get_param(name)) is not None}

    def create_repository_creation_template(self):
        registry = ecr_registry(self.current_account, self.region)
        return answer(lambda: registry.create_template(request(self), clock.now()))

    def update_repository_creation_template(self):
        registry = ecr_registry(self.current_account, self.region)
        return answer(lambda: registry.update_template(request(self), clock.now()))

    def delete_repository_creation_template(self):
        registry = ecr_registry(self.current_account, self.region)
        return answer(lambda: registry.delete_template(self._get_param("prefix")))

    def describe_repository_creation_templates(self):
        registry = ecr_registry(self.current_account, self.region)
        return answer(lambda: registry.describe_templates(
            self._get_param("prefixes"), self._get_param("maxResults"), self._get_param("nextToken")))

    def get_authorization_token(self):
        registry_ids = self._get_param("registryIds") or [self.current_account]
        return answer(lambda: {"authorizationData": [
            ecr_registry(registry_id, self.region).issue_token(self.get_access_key(), clock.now())
            for registry_id in check_registry_ids(registry_ids)]})

    _add(ECRResponse, "create_repository_creation_template", create_repository_creation_template)
    _add(ECRResponse, "update_repository_creation_template", update_repository_creation_template)
    _add(ECRResponse, "delete_repository_creation_template", delete_repository_creation_template)
    _add(ECRResponse, "describe_repository_creation_templates", describe_repository_creation_templates)
    _replace(ECRResponse, "get_authorization_token", get_authorization_token)


def event_pattern_matches(pattern: str, event: dict) -> bool:
    """Whether an EventBridge rule's pattern (JSON) matches ``event``, as moto's own events backend decides."""
    from moto.events.models import EventPattern

    return EventPattern.load(pattern).matches_event(event)


# -- moto's state, read by the stand-in's services (the ``backends`` of each moto service) -----------------------
def eks_backend(account: str, region: str) -> Any:
    """moto's EKS backend of one account and region (clusters by name, node groups)."""
    from moto.eks.models import eks_backends

    return eks_backends[account][region]


def ec2_backend(account: str, region: str) -> Any:
    """moto's EC2 backend of one account and region."""
    from moto.ec2.models import ec2_backends

    return ec2_backends[account][region]


def scheduler_backend(account: str, region: str) -> Any:
    """moto's EventBridge Scheduler backend of one account and region (schedule groups and their schedules)."""
    from moto.scheduler.models import scheduler_backends

    return scheduler_backends[account][region]


def events_backend(account: str, region: str) -> Any:
    """moto's EventBridge backend of one account and region (event buses and their rules)."""
    from moto.events.models import events_backends

    return events_backends[account][region]


def ecr_backend(account: str, region: str) -> Any:
    """moto's ECR backend of one account and region (repositories by name, their images and policies)."""
    from moto.ecr.models import ecr_backends

    return ecr_backends[account][region]


def ecr_registry(account: str, region: str) -> Any:
    """The stand-in's ``ecr_registry.Registry`` of one account and region, kept on moto's ECR backend so that a
    reset forgets its templates and tokens with the rest of ECR."""
    from coursehub_local.ecr_registry import Registry

    backend = ecr_backend(account, region)
    with _ecr_lock:
        if not isinstance(getattr(backend, "coursehub_registry", None), Registry):
            backend.coursehub_registry = Registry(account, region, ecr_check_lifecycle_policy)
        return backend.coursehub_registry


def ecr_has_repository(account: str, region: str, name: str) -> bool:
    """Whether moto's ECR has a repository of this name in this account and region."""
    return name in ecr_backend(account, region).repositories


def ecr_has_image(account: str, region: str, repository: str, tag: str) -> bool:
    """Whether moto's ECR holds an image tagged ``tag`` in ``repository`` (what a manifest lookup finds)."""
    found = ecr_backend(account, region).repositories.get(repository)
    return found is not None and any(tag in image.image_tags for image in found.images)


def ecr_create_repository(account: str, region: str, name: str, settings: dict) -> None:
    """Create a repository in moto's ECR with a creation template's settings (its members as the ECR API names
    them: imageTagMutability, imageTagMutabilityExclusionFilters, encryptionConfiguration, resourceTags,
    lifecyclePolicy, repositoryPolicy); moto checks each as CreateRepository and the Put/Set actions do."""
    from moto.ecr.models import ECRBackend

    backend = ecr_backend(account, region)
    ECRBackend.create_repository(
        backend, repository_name=name, registry_id=None, encryption_config=settings.get("encryptionConfiguration"),
        image_scan_config=None, image_tag_mutability=settings.get("imageTagMutability"),
        tags=settings.get("resourceTags") or [],
        image_tag_mutability_exclusion_filters=settings.get("imageTagMutabilityExclusionFilters"))
    if settings.get("lifecyclePolicy"):
        ECRBackend.put_lifecycle_policy(backend, registry_id=None, repository_name=name,
                                        lifecycle_policy_text=settings["lifecyclePolicy"])
    if settings.get("repositoryPolicy"):
        ECRBackend.set_repository_policy(backend, registry_id=None, repository_name=name,
                                         policy_text=settings["repositoryPolicy"])


def ecr_put_image(account: str, region: str, repository: str, manifest: str, tag: str, media_type: str,
                  digest: str) -> None:
    """PutImage into moto's ECR (what a docker push ends with); raises moto's ECR errors as ECR does."""
    from moto.ecr.models import ECRBackend

    ECRBackend.put_image(ecr_backend(account, region), repository, manifest, tag, media_type, digest)


def ecr_check_lifecycle_policy(text: str) -> None:
    """Raise ECR's InvalidParameterException for lifecycle policy text PutLifecyclePolicy refuses (moto's rules)."""
    from moto.ecr.policy_validation import EcrLifecyclePolicyValidator

    EcrLifecyclePolicyValidator(text).validate()


def ecr_service_error() -> type[Exception]:
    """The base of moto's service errors (an ECR backend call raises one with ECR's ``code``)."""
    from moto.core.exceptions import ServiceException

    return ServiceException


def eks_check_deletable(cluster: Any) -> None:
    """Raise as moto's EKS does for a cluster that still has node groups."""
    from moto.eks.models import validate_safe_to_delete

    validate_safe_to_delete(cluster)


def eks_error(name: str) -> type[Exception]:
    """One of moto's EKS errors (raised in a backend call, moto answers it as EKS does)."""
    from moto.eks import exceptions

    class UnsupportedAvailabilityZoneException(exceptions.EKSError):  # EKS API reference; moto has none
        TYPE = "UnsupportedAvailabilityZoneException"
        STATUS = 400

    return {"InvalidParameterException": exceptions.InvalidParameterException,
            "ResourceInUseException": exceptions.ResourceInUseException,
            "ResourceNotFoundException": exceptions.ResourceNotFoundException,
            "UnsupportedAvailabilityZoneException": UnsupportedAvailabilityZoneException}[name]


def ec2_security_group_not_found() -> type[Exception]:
    """moto's EC2 error for a security group that does not exist."""
    from moto.ec2.exceptions import InvalidSecurityGroupNotFoundError

    return InvalidSecurityGroupNotFoundError


def account_region(request: Any, service: str) -> tuple[str, str]:
    """Account and region of a request to a moto URL handler, as moto derives them (the SigV4 credential scope)."""
    from moto.core.responses import BaseResponse

    handler = BaseResponse(service_name=service)
    handler.setup_class(request, request.url, request.headers, use_raw_body=True)
    return handler.get_current_account(), handler.region


# -- moto's server ------------------------------------------------------------------------------------------------
def configure(service: str, settings: dict) -> None:
    """Set a service's moto configuration (what ``mock_aws(config=...)`` sets), for the stack's server."""
    from moto.core.config import default_user_config

    default_user_config[service] = settings


def server_app() -> tuple[Callable, type]:
    """moto's WSGI application for every service on one endpoint, and the request handler its server uses."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

    return DomainDispatcherApplication(create_backend_app), MotoRequestHandler


def reset() -> None:
    """Forget every service's state (what ``POST /moto-api/reset`` does)."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
