"""Block Kit for Slack messages: text, hub / step / outcome fields, URL buttons and the execution's console link."""
from chalicelib import slack_blocks

EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:coursehub-dev-provision:run-1"


def test_a_described_message_has_text_fields_buttons_and_a_console_link():
    blocks = slack_blocks.build("Hub <ready> & waiting", hub_id="hub-cs101", workflow="provision",
                                step="Schedule the hub's life", outcome="ready",
                                urls={"binder": "https://binder.cs101.example.edu", "docs": "https://docs.example.edu"},
                                execution=EXECUTION)
    assert [b["type"] for b in blocks] == ["section", "section", "actions", "context"]
    assert blocks[0]["text"] == {"type": "mrkdwn", "text": "Hub &lt;ready&gt; &amp; waiting"}
    assert [f["text"] for f in blocks[1]["fields"]] == [
        "*Hub*\n`hub-cs101`", "*Workflow*\nprovision", "*Step*\nSchedule the hub's life",
        "*Outcome*\n:white_check_mark: ready"]
    assert [(b["text"]["text"], b["url"]) for b in blocks[2]["elements"]] == [
        ("Open BinderHub", "https://binder.cs101.example.edu"), ("docs", "https://docs.example.edu")]
    (line,) = blocks[3]["elements"]
    assert line["text"] == ("Step Functions execution <https://eu-west-1.console.aws.amazon.com/states/home"
                            f"?region=eu-west-1#/v2/executions/details/{EXECUTION}|run-1>")


def test_a_plain_text_makes_one_section():
    assert slack_blocks.build("hello") == [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]


def test_the_console_link_follows_the_region_of_the_arn_and_only_the_standard_partition():
    assert slack_blocks.console_url(EXECUTION.replace("eu-west-1", "us-east-2")) == (
        "https://us-east-2.console.aws.amazon.com/states/home?region=us-east-2#/v2/executions/details/"
        + EXECUTION.replace("eu-west-1", "us-east-2"))
    assert slack_blocks.console_url(EXECUTION.replace("arn:aws:", "arn:aws-cn:")) is None
    assert slack_blocks.console_url("not an arn") is None
    china = slack_blocks.build("x", execution=EXECUTION.replace("arn:aws:", "arn:aws-cn:"))
    assert "`arn:aws-cn:states:" in china[-1]["elements"][0]["text"]


def test_slack_limits_are_kept_by_cutting():
    blocks = slack_blocks.build("x" * 5000, step="s" * 2500, urls={"n" * 100: "https://example.edu"})
    assert len(blocks[0]["text"]["text"]) == 3000 and blocks[0]["text"]["text"].endswith("…")
    assert all(len(f["text"]) <= 2000 for f in blocks[1]["fields"])
    assert len(blocks[2]["elements"][0]["text"]["text"]) == 75
