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


def test_the_next_run_is_one_interval_after_the_last_real_sync_began_not_after_a_restart(qtbot):
    from datetime import UTC, datetime, timedelta

    hour = 60 * 60 * 1000
    began = datetime.now(UTC) - timedelta(minutes=50)
    scheduler = SyncScheduler(hour, lambda: False)
    scheduler.start()  # the app just started: before the history is read, one interval from now
    scheduler.anchor(began)  # the history says the last sync began 50 minutes ago
    next_run = scheduler.next_run()
    assert next_run is not None
    assert abs((next_run - (began + timedelta(hours=1))).total_seconds()) < 2  # in ~10 min, not 60
    scheduler.anchor(began - timedelta(hours=3))  # an older run read later moves nothing
    assert scheduler.next_run() == next_run
    scheduler.stop()


def test_an_overdue_sync_runs_soon_after_start_up(qtbot):
    from datetime import UTC, datetime, timedelta

    scheduler = SyncScheduler(200, lambda: False)
    scheduler.start(datetime.now(UTC) - timedelta(days=1))
    next_run = scheduler.next_run()
    assert next_run is not None and next_run <= datetime.now(UTC) + timedelta(milliseconds=250)
    with qtbot.waitSignal(scheduler.due, timeout=2000):
        pass


def test_a_preview_does_not_push_the_next_run_later(qtbot):
    scheduler = SyncScheduler(60 * 60 * 1000, lambda: False)
    scheduler.start()
    before = scheduler.next_run()
    qtbot.wait(30)
    scheduler.run_finished(keeps_schedule=True)  # a dry run (or one kind of record retried) ended
    assert scheduler.next_run() == before
    scheduler.run_finished()  # a real sync ended: an interval after it began
    after = scheduler.next_run()
    assert after is not None and before is not None and after > before
    scheduler.stop()


def test_a_retry_is_sooner_than_the_timer_and_a_real_sync_ends_it(qtbot):
    scheduler = SyncScheduler(60 * 60 * 1000, lambda: False)
    scheduler.start()
    scheduler.retry_in(40)
    assert scheduler.retrying
    with qtbot.waitSignal(scheduler.due, timeout=2000):
        pass
    scheduler.run_finished()
    assert not scheduler.retrying
    scheduler.stop()
