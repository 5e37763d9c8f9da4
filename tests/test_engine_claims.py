"""A Halo record linked in this run is not matched again by another record of the books.

Why a file of its own: the rule is answered from two places (a match whose write is still queued is held
in memory; a confirmed one by its link, saved with its batch), and each needs a run that reaches it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from sync.engine import SyncEngine
from sync.events import Event, RecordOutcome, RunSummary
from sync.settings import Settings
from sync.state import StateStore
from tests.test_engine_suppliers import SupplierBooks, supplier


@pytest.mark.parametrize("confirmed_first", [False, True], ids=["still-queued", "confirmed-batches-ago"])
def test_a_halo_record_linked_by_name_is_not_matched_again_by_a_later_record(
    tmp_path, halo_sandbox, make_halo_client, confirmed_first
):
    twin = halo_sandbox.seed("Supplier", {"name": "Acme Ltd"})
    bolt = halo_sandbox.seed("Supplier", {"name": "Bolt Ltd"})
    # With batches of 2, BOLT1's update fills the update batch with ACME1's: both are confirmed (and
    # linked) before ACME2 is planned. Without it, ACME1's update still waits in its batch.
    middle = [supplier("BOLT1", "Bolt Ltd")] if confirmed_first else []
    fillers = [supplier(f"FILL{n}", f"Filler {n}") for n in range(6)]
    books = SupplierBooks([supplier("ACME1", "Acme Ltd"), *middle, *fillers, supplier("ACME2", "Acme Ltd")])
    settings = Settings()
    settings.halo.batch_size = 2
    events: list[Event] = []
    with StateStore(tmp_path / "state.sqlite") as state:
        engine = SyncEngine(
            settings,
            state,
            books,  # type: ignore[arg-type]
            make_halo_client(halo_sandbox),
            summary=RunSummary(run_id=0, started=datetime.now(UTC)),
            listener=events.append,
        )
        engine.run(["suppliers"])
        linked = {key: link.halo_id for key, link in state.links("suppliers").items()}
    assert linked["ACME1"] == twin["id"]
    assert linked["ACME2"] != twin["id"]  # the one "Acme Ltd" in Halo belongs to ACME1 now
    if confirmed_first:
        assert linked["BOLT1"] == bolt["id"]
    created = {e.key for e in events if isinstance(e, RecordOutcome) and e.outcome == "created"}
    assert "ACME2" in created
    assert Counter(linked.values()).most_common(1)[0][1] == 1  # no Halo record linked twice
