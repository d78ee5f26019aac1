"""Which failed AWS calls are worth another try later, in botocore's own terms."""
from __future__ import annotations

from botocore.exceptions import ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

from chalicelib.errors import AwsTransientError

_throttled = ThrottledRetryableChecker()


def transient(error: ClientError) -> AwsTransientError | None:
    """An AwsTransientError naming the operation and code if ``error`` is throttling or a 5xx, else None."""
    response = error.response or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    if not (_throttled.is_retryable(RetryContext(attempt_number=1, parsed_response=response))
            or status == 429 or status >= 500):
        return None
    code = response.get("Error", {}).get("Code", "")
    return AwsTransientError(f"{error.operation_name} failed with {code or 'HTTP ' + str(status)}; retrying later")
