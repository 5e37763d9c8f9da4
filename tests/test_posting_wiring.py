"""Posting as the rest of the app meets it: which packages can take invoices, what run_sync does with a
posting that cannot run, and the dry run's table on the console."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.registry import writer_class
from core.errors import ConfigError
from sync.cli import ConsoleListener
from sync.events import PostingPreviewed
from sync.posting_preview import PostingPreview, PreviewRow


def test_quickbooks_has_a_writer_and_the_others_say_what_to_do():
    from connectors.quickbooks_writer import QuickBooksWriter

    assert writer_class("quickbooks") is QuickBooksWriter
    for kind, words in (
        ("odbc", "read only"),
        ("sage50ca", "Sage 50 Canadian Edition"),
        ("demo", "read only"),
    ):
        with pytest.raises(ConfigError) as raised:
            writer_class(kind)
        assert words in str(raised.value) and "posting.enabled" in raised.value.action


def test_a_run_with_posting_on_and_no_start_date_stops_before_reading_anything(sage_company):
    sage_company.settings.posting.enabled = True
    summary = sage_company.run()
    assert summary.status == "failed" and summary.error_kind == "config"
    assert "posting.start_date" in summary.error
    assert sage_company.posts() == {} and sage_company.sandbox.records("Client") == []


def test_a_package_that_cannot_take_invoices_fails_the_run_with_what_to_do(sage_company):
    sage_company.settings.posting.enabled = True
    sage_company.settings.posting.start_date = "2026-01-01"
    sage_company.settings.source.kind = "odbc"
    summary = sage_company.run()
    assert summary.status == "failed" and summary.error_kind == "config"
    assert "cannot take invoices from Halo" in summary.error and "Settings > Sync" in summary.error


def test_with_posting_off_nothing_about_posting_happens(sage_company):
    summary = sage_company.run()
    assert summary.status in ("ok", "partial") and "posting" not in summary.counts


def test_the_dry_run_prints_what_would_be_posted_with_totals():
    day = datetime(2026, 3, 1, tzinfo=UTC)
    rows = (
        PreviewRow(
            7,
            "HI-7",
            "Acme Ltd",
            day,
            Decimal("100.00"),
            Decimal("20.00"),
            Decimal("120.00"),
            False,
            "post",
            "would post invoice HI-7; creates customer Acme Ltd in the books",
        ),
        PreviewRow(
            8, "HI-8", "Acme Ltd", day, Decimal("10.00"), Decimal("2.00"), Decimal("12.00"), True, "post"
        ),
        PreviewRow(
            9,
            "HI-9",
            "Brook",
            day,
            Decimal("5.00"),
            Decimal("1.00"),
            Decimal("6.00"),
            False,
            "problem",
            "Halo tax R (id 4) is not mapped to a tax code in the books.",
            "Set it in Mappings > Tax codes",
        ),
    )
    out = io.StringIO()
    ConsoleListener(out)(PostingPreviewed(PostingPreview(rows, filtered=3)))
    text = out.getvalue()
    assert "HI-7" in text and "2026-03-01" in text and "-12.00" in text
    assert "creates customer Acme Ltd in the books" in text
    assert "problem: Halo tax R (id 4) is not mapped" in text
    total = next(line for line in text.splitlines() if line.startswith("Total to post: 2"))
    assert total.split()[-3:] == ["90.00", "18.00", "108.00"]
    assert "2 to post, 0 already in the books, 1 with problems, 0 skipped; 3 left out by the rule." in text


def test_the_settings_refuse_posting_without_a_start_date_or_with_an_unknown_word():
    from sync.settings import Settings

    settings = Settings.from_dict(
        {
            "halo": {"resource_server": "https://acme.halopsa.com", "client_id": "x"},
            "source": {"kind": "quickbooks"},
        }
    )
    settings.validate()  # posting off: no start date needed
    settings.posting.enabled = True
    with pytest.raises(ConfigError) as raised:
        settings.validate()
    assert "posting.start_date" in raised.value.action
    settings.posting.start_date = "1 Jan 2026"
    with pytest.raises(ConfigError, match="not a date"):
        settings.validate()
    settings.posting.start_date = "2026-01-01"
    settings.posting.number_from = "quickbooks"
    with pytest.raises(ConfigError, match="number_from"):
        settings.validate()
    settings.posting.number_from = "books"
    settings.validate()
