"""The worker plumbing: results come back on the GUI thread, and a flood of engine events is throttled."""

from __future__ import annotations

import threading

from gui.worker import SyncSignals, TaskRunner, ThrottledListener
from sync.events import EntityStarted, Progress, RecordOutcome, RunFinished, RunStarted, RunSummary


def test_a_task_runs_off_the_gui_thread_and_its_result_comes_back_on_it(qtbot):
    runner = TaskRunner()
    seen: dict[str, object] = {}

    def work() -> int:
        seen["worker"] = threading.current_thread()
        return 42

    def done(result: int) -> None:
        seen["result"] = result
        seen["callback"] = threading.current_thread()

    runner.submit(work, done)
    qtbot.waitUntil(lambda: "result" in seen, timeout=5000)
    assert seen["result"] == 42
    assert seen["worker"] is not threading.main_thread()
    assert seen["callback"] is threading.main_thread()
    assert runner.pending == 0


def test_a_task_that_raises_hands_its_exception_to_the_error_callback(qtbot):
    runner = TaskRunner()
    errors: list[BaseException] = []

    def work() -> None:
        raise ValueError("the driver said no")

    runner.submit(work, lambda _: errors.append(AssertionError("no result expected")), errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert isinstance(errors[0], ValueError) and "driver said no" in str(errors[0])


def test_many_tasks_returning_none_and_bools_do_not_corrupt_the_interpreter(qtbot):
    """PySide6 6.12.0 leaked a None/True reference per call here and aborted CPython after a few thousand."""
    runner = TaskRunner()
    results: list[object] = []
    for n in range(3000):
        runner.submit((lambda: None) if n % 2 else (lambda: True), results.append)
    qtbot.waitUntil(lambda: len(results) == 3000, timeout=30_000)
    assert results.count(None) == 1500 and results.count(True) == 1500


def test_the_listener_throttles_a_flood_of_progress_but_never_drops_counts_or_failures(qtbot):
    signals = SyncSignals()
    snapshots: list = []
    failures: list = []
    finished: list = []
    signals.progress.connect(snapshots.append)
    signals.failures.connect(failures.extend)
    signals.finished_summary.connect(finished.append)
    listener = ThrottledListener(signals, interval_s=0.05)
    total = 20_000

    def engine() -> None:  # what the engine does from its own thread
        listener(RunStarted(1, ("customers",), False, _now()))
        listener(EntityStarted("customers"))
        for n in range(1, total + 1):
            outcome = "failed" if n % 1000 == 0 else "created"
            listener(
                RecordOutcome("customers", f"C{n}", outcome, message="bad" if outcome == "failed" else "")
            )
            listener(Progress("customers", n, total))
        summary = RunSummary(1, started=_now())
        summary.add("customers", "created", total - 20)
        summary.add("customers", "failed", 20)
        listener(RunFinished(summary))

    thread = threading.Thread(target=engine)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bool(finished), timeout=5000)
    assert len(snapshots) < 200  # 40,000 events became a few snapshots
    last = snapshots[-1]
    assert (last.entity, last.done, last.total) == ("customers", total, total)
    assert last.counts["customers"]["created"] == total - 20
    assert last.counts["customers"]["failed"] == 20
    assert [f.key for f in failures] == [f"C{n}" for n in range(1000, total + 1, 1000)]


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)
