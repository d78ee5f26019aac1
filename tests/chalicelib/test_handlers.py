"""The clients the functions share: the API's Step Functions calls fit within API Gateway's 29 s."""
from botocore.retries.standard import ExponentialBackoff

from chalicelib import handlers

API_GATEWAY_TIMEOUT_S = 29  # https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html


def test_a_throttled_start_is_tried_four_times_and_every_attempt_and_wait_fit_in_the_api_s_time():
    config = handlers._CONFIGS["stepfunctions"]
    attempts = config.retries["total_max_attempts"]
    assert config.retries["mode"] == "standard" and attempts >= 4  # three throttles need no manual retry
    waits = sum(min(2 ** i, ExponentialBackoff._MAX_BACKOFF) for i in range(attempts - 1))  # rand(0, 1) at most 1
    hung = attempts * (config.connect_timeout + config.read_timeout)
    assert waits + hung < API_GATEWAY_TIMEOUT_S - 5  # room for the API's DynamoDB calls


def test_only_the_apis_step_functions_client_has_the_short_timeouts():
    assert set(handlers._CONFIGS) == {"stepfunctions"}
    assert handlers._RETRIES.retries["total_max_attempts"] == 3
