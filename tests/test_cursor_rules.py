"""The cursor's rules in isolation: unfinished streams keep their position, times compare as instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from core.records import aware, fall_back_widening, utc
from sync.engine import CursorTracker

LONDON = ZoneInfo("Europe/London")
OLD = datetime(2026, 1, 1, tzinfo=UTC)


def test_an_unfinished_stream_keeps_its_cursor_whatever_it_confirmed():
    tracker = CursorTracker()
    tracker.ok(datetime(2026, 6, 1, tzinfo=UTC))
    assert tracker.next_cursor(OLD) == OLD  # stopped by anything: an AuthError, a signal, a bug
    tracker.completed = True
    assert tracker.next_cursor(OLD) == datetime(2026, 6, 1, tzinfo=UTC)


def test_a_finished_stream_stops_at_its_oldest_failure_and_never_passes_the_ceiling():
    tracker = CursorTracker(completed=True)
    tracker.ok(datetime(2031, 1, 1, tzinfo=UTC))  # a row dated in the future
    ceiling = datetime(2026, 12, 1, 8, 50, tzinfo=UTC)
    assert tracker.next_cursor(OLD, ceiling) == ceiling
    tracker.failed(datetime(2026, 3, 1, tzinfo=UTC))
    assert tracker.next_cursor(OLD, ceiling) == datetime(2026, 3, 1, tzinfo=UTC)


def test_a_cursor_already_in_the_future_comes_back_to_the_ceiling_even_when_unfinished():
    ceiling = datetime(2026, 12, 1, tzinfo=UTC)
    assert CursorTracker().next_cursor(datetime(2031, 1, 1, tzinfo=UTC), ceiling) == ceiling


def test_times_in_the_repeated_hour_compare_by_instant():
    first_pass = datetime(2026, 10, 25, 1, 35, tzinfo=LONDON)  # BST, 00:35 UTC
    second_pass = datetime(2026, 10, 25, 1, 10, fold=1, tzinfo=LONDON)  # GMT, 01:10 UTC
    assert second_pass < first_pass  # Python's wall-clock comparison within one zone: the trap
    assert utc(second_pass) > utc(first_pass)
    tracker = CursorTracker(completed=True)
    tracker.ok(first_pass)
    tracker.ok(second_pass)
    assert tracker.latest_ok == datetime(2026, 10, 25, 1, 10, tzinfo=UTC)


def test_an_ambiguous_wall_time_is_read_as_its_earlier_instant():
    assert utc(aware(datetime(2026, 10, 25, 1, 10), LONDON)) == datetime(2026, 10, 25, 0, 10, tzinfo=UTC)


def test_the_read_starts_an_hour_earlier_only_when_a_fall_back_follows():
    assert fall_back_widening(datetime(2026, 10, 25, 0, 35, tzinfo=UTC), LONDON) == timedelta(hours=1)
    assert fall_back_widening(datetime(2026, 10, 25, 1, 20, tzinfo=UTC), LONDON) == timedelta(0)
    assert fall_back_widening(datetime(2026, 3, 29, 0, 30, tzinfo=UTC), LONDON) == timedelta(0)  # spring
    assert fall_back_widening(datetime(2026, 7, 1, tzinfo=UTC), LONDON) == timedelta(0)


def test_a_saved_cursor_later_than_the_clock_means_one_full_read(sage_company):
    """A PC clock a day ahead, then corrected: edits since the correction are older than the cursor."""
    from sync.events import LogMessage

    first = sage_company.run()
    assert first.error == ""
    with sage_company.state() as state:
        state.save_cursor("customers", datetime(2031, 1, 1, tzinfo=UTC))
    again = sage_company.run()
    counts = again.counts["customers"]
    read = sum(counts.values())
    assert read == sum(first.counts["customers"].values())  # every customer read once more
    assert counts["created"] == 0 and counts["updated"] == 0
    warnings = [e.text for e in sage_company.events if isinstance(e, LogMessage) and e.level == "warning"]
    assert any("later than this PC's clock" in text for text in warnings)
    with sage_company.state() as state:
        assert state.cursor("customers") < datetime.now(UTC)


_ZONES = (UTC, LONDON, ZoneInfo("America/Toronto"), ZoneInfo("UTC"), timezone(timedelta(hours=5, minutes=30)))
# Times within hours of each other (around a clock change, in zones both sides of UTC): where a wall-clock
# comparison and an instant comparison disagree.
_around = st.sampled_from(
    (datetime(2026, 10, 25, 1, 30), datetime(2026, 3, 29, 1, 30), datetime(2026, 6, 1, 12))
)
_moments = st.tuples(
    st.integers(-12 * 60, 12 * 60), st.sampled_from((None, "naive", *_ZONES)), st.sampled_from((0, 1))
)


def _moment(around: datetime, minutes: int, zone: object, fold: int) -> datetime | None:
    naive = around + timedelta(minutes=minutes)
    if zone is None or zone == "naive":
        return None if zone is None else naive
    assert isinstance(zone, tzinfo)
    return naive.replace(tzinfo=zone, fold=fold)


@settings(max_examples=500, deadline=None)
@given(_around, st.lists(_moments, max_size=12))
def test_the_newest_confirmed_time_is_the_latest_instant_whatever_the_zones(around, drawn):
    """``ok`` converts a time to UTC only when it is the newest so far; the newest it keeps must be the
    latest instant of all, repeated hours (fold=1), UTC itself, other zones and naive times (read as UTC)
    included."""
    times = [_moment(around, *parts) for parts in drawn]
    tracker = CursorTracker()
    for moment in times:
        tracker.ok(moment)
    instants = [utc(moment) for moment in times if moment is not None]
    assert tracker.latest_ok == (max(instants) if instants else None)
    if tracker.latest_ok is not None:
        assert tracker.latest_ok.tzinfo is UTC
