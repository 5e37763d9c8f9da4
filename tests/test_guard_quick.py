"""The guard's quick paths hold what the plain rules hold, on random sequences.

Why: ``Recent.update`` adds a batch's ids and keys at once and lets the oldest go once, not after each add;
``_id`` takes a dict without asking the Mapping ABC. Both run for every record a create batch sends.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.answers import halo_id
from sync.guard import Recent, _id


class _PlainRecent:
    """The rule as first written: each value added in turn, the oldest dropped whenever over ``size``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.values: list[int] = []

    def add(self, value: int) -> None:
        if value in self.values:
            self.values.remove(value)
        self.values.append(value)
        while len(self.values) > self.size:
            self.values.pop(0)


_steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 12)),
        st.tuples(st.just("update"), st.lists(st.integers(0, 12), max_size=9)),
        st.tuples(st.just("fit"), st.integers(0, 5)),
    ),
    max_size=25,
)


@settings(max_examples=1000, deadline=None)
@given(st.integers(0, 6), _steps)
def test_recent_holds_the_newest_values_as_adding_each_in_turn(size: int, steps: list[Any]) -> None:
    recent: Recent[int] = Recent(size)
    plain = _PlainRecent(size)
    for step, argument in steps:
        if step == "add":
            recent.add(argument)
            plain.add(argument)
        elif step == "update":
            recent.update(argument)
            for value in argument:
                plain.add(value)
        else:
            recent.fit(argument)
            plain.size = max(plain.size, 2 * argument)
        assert len(recent) == len(plain.values)
        assert [v for v in range(13) if v in recent] == sorted(plain.values)
        assert list(recent._values) == plain.values  # the same order: the next to go are the same


_ids = st.one_of(st.none(), st.integers(-2, 5), st.sampled_from(["3", " 4 ", "x", True, 2.0]))


@settings(max_examples=300, deadline=None)
@given(_ids, st.sampled_from([dict, OrderedDict, MappingProxyType, list]))
def test_id_of_any_record_is_the_plain_rule(value: object, kind: Any) -> None:
    record = kind({"id": value}) if kind is not list else [("id", value)]
    expected = (halo_id(record) or 0) if isinstance(record, Mapping) else 0
    assert _id(record) == expected
