"""The live view: when a run is over, what it prints, and how it outlasts a lost connection or gives up."""
import io
import urllib.error

from coursehub import watch


def view(status="PROVISIONING", steps=(), done=0, total=3, workflow="provision", **extra):
    return {"hub_id": "hub-x", "status": status, "workflow": workflow, "execution_arn": "arn:run-1",
            "progress": {"done": done, "total": total}, "current_step": steps[-1]["name"] if steps else None,
            "steps": list(steps), **extra}


def step(name, outcome="SUCCEEDED", seconds=2.0, detail=""):
    return {"name": name, "outcome": outcome, "duration_s": None if outcome == "RUNNING" else seconds,
            "detail": detail}


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_a_run_is_over_when_ready_with_every_step_done_retired_or_failed():
    assert not watch.ended(view("PROVISIONING"))
    assert not watch.ended(view("READY", [step("Create the cluster")], done=1, total=2))
    assert watch.ended(view("READY", [step("a"), step("b")], done=2, total=2))
    assert watch.ended(view("RETIRED", workflow="teardown"))
    assert watch.ended(view("FAILED"))


def test_a_ready_hub_whose_last_step_succeeded_is_over_though_a_step_it_skipped_counts_in_the_total():
    from chalicelib.api_views import STEPS

    last = STEPS["provision"][-1]
    assert watch.ended(view("READY", [step("Publish DNS"), step(last)], done=12, total=13))
    assert not watch.ended(view("READY", [step(last, "RUNNING")], done=12, total=13))


def test_follow_prints_each_step_once_when_it_starts_and_when_it_ends():
    urls = {"binder": "https://b", "hub": "https://h"}
    views = iter([view(steps=[step("Create the cluster", "RUNNING")]),
                  view(steps=[step("Create the cluster", detail="created"), step("Create the node group", "RUNNING")],
                       done=1),
                  view("READY", [step("Create the cluster"), step("Create the node group"),
                                 step("Publish DNS", seconds=75)], done=3, urls=urls)])
    out, clock = io.StringIO(), FakeClock()
    outcome = watch.follow(lambda: next(views), interval=1, out=out, sleep=clock.sleep, clock=clock)
    assert outcome.ok and outcome.seconds == 2
    assert out.getvalue().splitlines() == [
        "  00:00 hub-x: provisioning, 3 steps (PROVISIONING)",
        "  00:00 [ 0/3] started  Create the cluster",
        "  00:01 [ 1/3] done     Create the cluster (2 s; created)",
        "  00:01 [ 1/3] started  Create the node group",
        "  00:02 [ 2/3] done     Create the node group (2 s)",
        "  00:02 [ 3/3] done     Publish DNS (1 min 15 s)",
        "  00:02 hub-x is READY: https://b (BinderHub), https://h (JupyterHub)",
    ]


def test_a_failed_run_names_the_step_and_cause_and_is_not_ok():
    failed = view("FAILED", [step("Create the node group", "FAILED", 0)], console_url="https://console",
                  error={"step": "Create the node group", "error": "AccessDeniedException", "cause": "not allowed"})
    out = io.StringIO()
    outcome = watch.follow(lambda: failed, out=out)
    assert not outcome.ok
    assert "failed at step 'Create the node group': AccessDeniedException: not allowed" in out.getvalue()
    assert "try again with: coursehub retry hub-x" in out.getvalue()


def test_follow_asks_again_after_a_network_error_and_gives_up_at_the_timeout(capsys):
    answers = [view(), urllib.error.URLError(ConnectionRefusedError("refused"))]

    def get():
        answer = answers.pop(0) if answers else view(steps=[step("Create the cluster", "RUNNING")])
        if isinstance(answer, Exception):
            raise answer
        return answer

    out, clock = io.StringIO(), FakeClock()
    outcome = watch.follow(get, interval=1, timeout=5, out=out, sleep=clock.sleep, clock=clock)
    assert outcome.timed_out and not outcome.ok
    assert "cannot reach the API: refused; asking again" in capsys.readouterr().err
    assert out.getvalue().splitlines()[-1] == ("  00:05 still PROVISIONING at step 'Create the cluster'; "
                                               "stopped watching (the workflow goes on)")
