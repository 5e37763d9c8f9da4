"""The sync timer on a real Qt event loop, with millisecond intervals: fires, skips while busy, pauses."""

from __future__ import annotations

from gui.scheduler import SyncScheduler


def test_the_timer_fires_every_interval(qtbot):
    scheduler = SyncScheduler(30, lambda: False)
    fired = []
    scheduler.due.connect(lambda: fired.append(1))
    scheduler.due.connect(scheduler.run_finished)  # as the controller does after each run
    scheduler.start()
    assert scheduler.next_run() is not None
    qtbot.waitUntil(lambda: len(fired) >= 3, timeout=3000)
    scheduler.stop()


def test_a_tick_while_a_run_is_going_is_skipped_and_the_timer_rearms_after_it(qtbot):
    busy = [True]
    scheduler = SyncScheduler(20, lambda: busy[0])
    fired = []
    scheduler.due.connect(lambda: fired.append(1))
    scheduler.start()
    qtbot.waitUntil(lambda: scheduler.skipped_busy >= 1, timeout=2000)
    qtbot.wait(100)
    assert fired == [] and scheduler.skipped_busy == 1  # a skipped tick does not keep ticking
    assert not scheduler.is_active() and scheduler.next_run() is None
    busy[0] = False
    scheduler.run_finished()  # the run that was going has ended
    with qtbot.waitSignal(scheduler.due, timeout=2000):
        pass
    assert fired == [1]


def test_pause_until_resumed_stops_timed_runs_and_resume_starts_them_again(qtbot):
    scheduler = SyncScheduler(20, lambda: False)
    fired = []
    scheduler.due.connect(lambda: fired.append(1))
    scheduler.start()
    with qtbot.waitSignal(scheduler.paused_changed, timeout=1000) as paused:
        scheduler.pause(None)
    assert paused.args == [True] and scheduler.paused and scheduler.paused_until is None
    assert scheduler.next_run() is None
    qtbot.wait(150)
    assert fired == []
    with qtbot.waitSignal(scheduler.due, timeout=2000):
        scheduler.resume()
    assert not scheduler.paused


def test_pause_for_a_while_resumes_by_itself(qtbot):
    scheduler = SyncScheduler(20, lambda: False)
    scheduler.start()
    scheduler.pause(120)
    assert scheduler.paused and scheduler.paused_until is not None
    with qtbot.waitSignal(scheduler.paused_changed, timeout=3000) as resumed:
        pass
    assert resumed.args == [False] and not scheduler.paused
    with qtbot.waitSignal(scheduler.due, timeout=2000):
        pass


def test_changing_the_interval_rearms_a_running_timer(qtbot):
    scheduler = SyncScheduler(60 * 60 * 1000, lambda: False)
    scheduler.start()
    first = scheduler.next_run()
    scheduler.set_interval_minutes(1)
    assert scheduler.interval_ms == 60_000
    assert scheduler.next_run() is not None and first is not None and scheduler.next_run() < first
    scheduler.stop()
