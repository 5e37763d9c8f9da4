"""Long run, suite size (bench/long_run.py does 500): 100 timer-driven no-change syncs in one app process
through the app's SyncController/SyncScheduler on a real Qt event loop; nothing grows.
"""

from __future__ import annotations

from bench.long_run import long_run


def test_a_hundred_timed_syncs_leak_no_memory_threads_fds_or_sockets(qapp, tmp_path):
    figures = long_run(tmp_path, runs=100, warmup=10)
    assert figures.start is not None and figures.end is not None
    assert figures.runs >= 100 and figures.statuses == {"ok": figures.runs}, figures.statuses
    assert figures.posts_after_warmup == 0  # no-change syncs write nothing
    assert figures.rss_growth <= 0.10, (figures.start.line(), figures.end.line())
    assert figures.end.threads <= figures.start.threads, (figures.start.line(), figures.end.line())
    assert figures.end.fds <= figures.start.fds, (figures.start.line(), figures.end.line())
    assert figures.end.sockets <= figures.start.sockets, (figures.start.line(), figures.end.line())
