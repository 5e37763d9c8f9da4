"""Sage 50 Canada has no posting route: turning posting on must say so, and say what to do instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import sage50ca_writer
from connectors.registry import writer_class
from core.errors import ConfigError
from sync.runner import posting_route

DOC = (Path(__file__).resolve().parent.parent / "docs" / "writing-sage.md").read_text(encoding="utf-8")


def test_opening_a_sage_50_canada_writer_is_a_config_error_that_says_why_and_what_to_do():
    with pytest.raises(ConfigError) as refused:
        writer_class("sage50ca")

    error = refused.value
    assert sage50ca_writer.MESSAGE in error.message
    assert "Sage 50 Canadian Edition" in error.message and "SDK" in error.message
    assert "Import Transactions" in error.message  # Sage's own import, run by the user
    assert "posting.enabled = false" in error.action
    assert posting_route("sage50ca") == f"{sage50ca_writer.MESSAGE} {sage50ca_writer.WHAT_TO_DO_INSTEAD}"


def test_the_docs_give_the_same_reasons():
    section = DOC.split("## Sage 50 Canadian Edition", 1)[1]
    for reason in (".NET", "authorised", "Import Transactions", ".IMP", "read-only", "MySQL"):
        assert reason in section
