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
