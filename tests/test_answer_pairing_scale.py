"""Answer pairing at batch size: the indexed pairing gives exactly what comparing every pair gives, and a
batch of n costs about n comparisons (sync/answers.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sync import answers
from sync.answers import agrees, halo_id, pair_answer


def every_pair(
    resource: str, sent: Sequence[Mapping[str, Any]], answer: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any] | None]:
    """The rule written out the slow way: every sent record against every answered record."""
    answered_ids = [halo_id(record) for record in answer]
    candidates: list[list[int]] = []
    for record in sent:
        wanted_id = halo_id(record)
        found = []
        for index, candidate in enumerate(answer):
            if answered_ids[index] is None:
                continue
            verdict = agrees(resource, record, candidate)
            if wanted_id is not None:
                if answered_ids[index] == wanted_id and verdict is not False:
                    found.append(index)
            elif verdict is True:
                found.append(index)
        candidates.append(found)
    claims: dict[int, int] = {}
    for found in candidates:
        for index in found:
            claims[index] = claims.get(index, 0) + 1
    return [answer[found[0]] if len(found) == 1 and claims[found[0]] == 1 else None for found in candidates]


# Keys that are the same record spelled otherwise (case, spaces, as numbers), and some that are not.
KEYS = [
    "C1",
    "c1 ",
    " C1",
    "C2",
    "12.50",
    "12.5",
    "0012.5",
    "1e1",
    "10",
    "NaN",
    "nan",
    "",
    "  ",
    "İnf",
    "inf",
]
ids = st.one_of(st.none(), st.integers(1, 6), st.integers(1, 6).map(str), st.just(True), st.just("x"))
maybe_key = st.one_of(st.none(), st.sampled_from(KEYS))
small = st.sampled_from([None, 1, 2, "2", "2.0", 10, "10.00"])
record = st.fixed_dictionaries(
    {},
    optional={
        "id": ids,
        "accountsid": maybe_key,
        "third_party_id": maybe_key,
        "thirdpartyid": maybe_key,
        "accounts_id": maybe_key,
        "thirdpartyinvoicenumber": maybe_key,
        "client_id": small,
        "invoice_id": small,
        "amount": small,
        "date": st.sampled_from(["2026-01-01", "2026-01-01T10:00:00Z", "2026-01-02"]),
    },
)
RESOURCES = ["Client", "Site", "Item", "Tax", "Invoice", "InvoicePayment", "Supplier", "Unknown"]


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(RESOURCES),
    st.lists(record, max_size=8),
    st.lists(record, max_size=8),
)
def test_indexed_pairing_is_every_pair_pairing(resource, sent, answer):
    assert pair_answer(resource, sent, answer) == every_pair(resource, sent, answer)


def test_a_batch_costs_about_one_comparison_per_record(monkeypatch):
    """Counted: 500 creates answered in reverse order make 500 comparisons (every pair: 250,000)."""
    sent = [{"name": f"C {n}", "accountsid": f"C{n:05d}"} for n in range(500)]
    answer = [{"id": 1000 + n, **record} for n, record in enumerate(sent)][::-1]
    calls = 0
    real = answers.agrees

    def counting(*args: Any) -> bool | None:
        nonlocal calls
        calls += 1
        return real(*args)

    monkeypatch.setattr(answers, "agrees", counting)
    paired = pair_answer("Client", sent, answer)
    assert [record["accountsid"] for record in paired if record] == [r["accountsid"] for r in sent]
    assert calls == len(sent)
