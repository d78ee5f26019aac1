"""The stack's clock: scaled time, jumps that wake sleepers, interrupts."""
import threading

from coursehub_local.clock import Clock
from coursehub_local.timeline import Timeline


def test_advance_moves_simulated_time_and_wakes_a_long_sleeper():
    clock = Clock(time_scale=1.0)
    start = clock.time()
    woke = threading.Event()
    sleeper = threading.Thread(target=lambda: clock.sleep(10 * 24 * 3600) and woke.set(), daemon=True)
    sleeper.start()
    clock.advance(10 * 24 * 3600)
    sleeper.join(timeout=5)
    assert woke.is_set()
    assert clock.time() - start >= 10 * 24 * 3600


def test_an_interrupt_ends_a_sleep_early():
    clock = Clock(time_scale=1.0)
    stop = threading.Event()
    stop.set()
    assert clock.sleep(3600, interrupt=stop) is False


def test_real_seconds_follow_the_scale():
    assert Clock(time_scale=600).real_seconds(600) == 1.0


def test_timeline_runs_actions_only_when_due():
    clock = Clock(time_scale=1.0)
    timeline = Timeline(clock)
    ran = []
    timeline.after(60, lambda: ran.append("later"))
    timeline.after(10, lambda: ran.append("sooner"))
    assert timeline.run_due() == 0
    clock.advance(30)
    assert timeline.run_due() == 1
    clock.advance(30)
    timeline.run_due()
    assert ran == ["sooner", "later"] and timeline.pending() == 0
