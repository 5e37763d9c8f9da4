"""Sage 50 Canada has no posting route: turning posting on must say so, and say what to do instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import sage50ca_writer
from core.errors import ConfigError

DOC = (Path(__file__).resolve().parent.parent / "docs" / "writing-sage.md").read_text(encoding="utf-8")


def test_opening_a_sage_50_canada_writer_is_a_config_error_that_says_why_and_what_to_do():
    with pytest.raises(ConfigError) as refused:
        sage50ca_writer.open_writer()

    error = refused.value
    assert error.message == sage50ca_writer.MESSAGE
    assert "Sage 50 Canadian Edition" in error.message and "SDK" in error.message
    assert "[posting] enabled = false" in error.action
    assert "Import Transactions" in error.action  # Sage's own import, run by the user
    assert "docs/writing-sage.md" in error.action


def test_the_docs_give_the_same_reasons():
    section = DOC.split("## Sage 50 Canadian Edition", 1)[1]
    for reason in (".NET", "authorised", "Import Transactions", ".IMP", "read-only", "MySQL"):
        assert reason in section
