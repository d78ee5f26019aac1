"""Lambda invokes on the local stack run the real handlers, and fail as AWS fails."""
import json

import pytest
from botocore.exceptions import ClientError


def test_invoking_a_missing_function_fails_as_on_aws(stack):
    with pytest.raises(ClientError) as error:
        stack.client("lambda").invoke(FunctionName="coursehub-dev-no_such_function", Payload=b"{}")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_raised_exception_becomes_a_function_error_named_after_its_class(stack):
    response = stack.client("lambda").invoke(FunctionName="coursehub-smoke-dev-smoke_fail", Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    body = json.loads(response["Payload"].read())
    assert body["errorType"] == "DeliberateFailure"
    assert body["errorMessage"] == "failing on purpose so the Catch runs"


def test_a_handler_result_is_the_invoke_payload(stack):
    response = stack.client("lambda").invoke(FunctionName="coursehub-smoke-dev-smoke_square",
                                             Payload=json.dumps({"value": 7}))
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"value": 7, "square": 49}


def test_every_app_function_is_deployed_with_the_stage_settings(stack):
    config = stack.client("lambda").get_function_configuration(FunctionName="coursehub-dev-notify_slack")
    assert config["Timeout"] == 30
    variables = config["Environment"]["Variables"]
    assert variables["STAGE"] == "dev"
    assert variables["SLACK_WEBHOOK_SECRET_ARN"] == stack.seeded.secrets["slack"]


def test_handlers_get_the_stand_in_charts_and_local_binaries_through_settings_only(stack):
    from chalicelib.charts import PINNED
    from chalicelib.runner import Runner
    from chalicelib.settings import Settings

    settings = Settings.from_env()  # what a handler on this stack reads
    assert settings.chart_repository == stack.chart_repository.url == stack.details()["chart_repository"]
    assert all(chart.reference(settings.chart_repository)[1:3] == ["--repo", settings.chart_repository]
               for chart in PINNED.values())
    runner = Runner(settings.tools_dir, "/dev/null", settings.kube_timeout_seconds)
    assert "v4.1.4" in runner.helm("version", "--short")


def test_a_result_that_is_not_json_fails_as_the_runtime_fails_not_as_a_server_error():
    from decimal import Decimal

    from coursehub_local.dispatch import DeployedFunction, LambdaDispatcher

    function = DeployedFunction("app-dev-f", lambda event, context: {"n": Decimal("1")}, "app", "f")
    headers = {}
    body = LambdaDispatcher([function]).invoke("app-dev-f", b"{}", 128, 3, "arn:aws:lambda:::function:app-dev-f",
                                               headers)
    assert headers["x-amz-function-error"] == "Unhandled"
    assert json.loads(body)["errorType"] == "Runtime.MarshalError"
