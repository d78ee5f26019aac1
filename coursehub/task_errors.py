"""The Retry and Catch every Task shares, which ``statemachines.definition`` adds to the ASL files' Tasks.

A Lambda Task retries Step Functions' Lambda service errors and the transient
errors its function can raise (``TRANSIENT_ERRORS``); a Task starting another
workflow retries its throttling (``START_EXECUTION_ERRORS``); a Task, Parallel or Map
state without a Catch of its own catches everything into the workflow's
failure path (``CATCH_ALL``).
"""
from __future__ import annotations

# Step Functions' own errors when invoking a Lambda function, worth another try by its best practices:
# https://docs.aws.amazon.com/step-functions/latest/dg/sfn-best-practices.html#bp-lambda-serviceexception
LAMBDA_SERVICE_ERRORS = ("Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                         "Lambda.TooManyRequestsException")
AWS = "AwsTransientError"  # app.py turns AWS throttling and 5xx into it, for every function calling AWS
KUBE = "KubeTransientError"  # chalicelib.runner: helm or kubectl failed in a way that may pass
SLACK = "SlackPostFailed"  # chalicelib.slack: the webhook did not take the message

# What each Task function can raise that is worth another try (tests/coursehub/test_task_errors.py checks it
# against the code, so a function names only errors its code can raise).
TRANSIENT_ERRORS: dict[str, tuple[str, ...]] = {
    "notify_slack": (AWS, SLACK),
    "record_failure": (AWS,),
    # provisioning
    "provision_start": (AWS,),
    "create_cluster": (AWS,),
    "check_cluster": (AWS,),
    "create_nodegroup": (AWS,),
    "check_nodegroup": (AWS,),
    "create_storage_addons": (AWS,),
    "check_storage_addons": (AWS,),
    "prepare_registry": (AWS,),
    "install_release": (AWS, KUBE),
    "configure_load_balancer": (AWS, KUBE),
    "publish_dns": (AWS,),
    "check_dns": (AWS,),
    "check_certificates": (AWS, KUBE),
    "verify_hub": (AWS,),
    "provision_ready": (AWS,),
    "schedule_lifecycle": (AWS,),
    # the launch check
    "start_test_build": (AWS,),
    "check_test_server": (AWS,),
    "start_test_kernel": (AWS,),
    "run_test_cell": (AWS,),
    "check_test_output": (AWS,),
    "stop_test_server": (AWS,),
    "record_launch_check": (AWS,),
    # teardown
    "teardown_start": (AWS,),
    "wake_nodegroup": (AWS,),
    "check_node_ready": (AWS, KUBE),
    "uninstall_releases": (AWS, KUBE),
    "check_released": (AWS,),
    "delete_dns": (AWS,),
    "delete_nodegroup": (AWS,),
    "check_nodegroup_deleted": (AWS,),
    "delete_cluster": (AWS,),
    "check_cluster_deleted": (AWS,),
    "delete_schedules": (AWS,),
    "delete_registry": (AWS,),
    "audit_hub": (AWS,),
    "teardown_retired": (AWS,),
}
TRANSIENT_RETRY = {"IntervalSeconds": 5, "BackoffRate": 2, "MaxAttempts": 4, "JitterStrategy": "FULL"}
# What a Task starting another workflow (``arn:aws:states:::states:startExecution``) retries: the error its
# StartExecution quotas raise, as the Step Functions guide names it for this integration ("Use the Retry on
# StepFunctions.ExecutionLimitExceeded to ensure your execution is started",
# https://docs.aws.amazon.com/step-functions/latest/dg/concepts-nested-workflows.html).
START_EXECUTION = "arn:aws:states:::states:startExecution"
START_EXECUTION_ERRORS = ("StepFunctions.ExecutionLimitExceeded",)
FAILURE_STATE = "Record the failure"  # a workflow with this state catches every failure into it
CATCH_ALL = {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FAILURE_STATE}


def transient_errors(function: str | None) -> list[str]:
    """The errors a Task calling ``function`` retries: Lambda's, then those the function can raise."""
    return [*LAMBDA_SERVICE_ERRORS, *TRANSIENT_ERRORS.get(function, ())]
