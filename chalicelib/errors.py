"""Named errors. Task handlers raise these so the state machines can Retry or Catch them by name."""


class CourseHubError(Exception):
    """Base class of every error the project raises on purpose."""


class SettingsError(CourseHubError):
    """A required setting is missing or malformed."""


class InvalidEvent(CourseHubError):
    """A Lambda event does not have the documented shape."""


class SecretUnavailable(CourseHubError):
    """A secret named by ARN cannot be read or has an unusable value."""


class SlackPostFailed(CourseHubError):
    """Slack did not accept a webhook message (transient: the state machines retry it)."""


class ClusterUnavailable(CourseHubError):
    """The EKS cluster does not exist or is not ACTIVE, so there is no API to talk to."""


class KubeError(CourseHubError):
    """helm or kubectl failed. ``stderr`` is scrubbed of credentials and secret values."""

    def __init__(self, message: str, *, command: str = "", returncode: int | None = None, stderr: str = ""):
        super().__init__(message)
        self.command = command
        self.returncode = returncode
        self.stderr = stderr


class KubeTransientError(KubeError):
    """helm or kubectl failed in a way that may pass on retry (API unreachable, throttled, timed out)."""


class KubeCommandFailed(KubeError):
    """helm or kubectl failed for good: bad chart, rejected values or objects, missing rights."""


class KubeNotFound(KubeCommandFailed):
    """The release or object the command names does not exist (deletes treat this as done)."""


class AwsTransientError(CourseHubError):
    """AWS throttled a call or answered 5xx after botocore's own retries; the state machines retry with backoff."""
