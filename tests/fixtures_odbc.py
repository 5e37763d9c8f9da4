"""Fixtures: fixtures_odbc."""

from __future__ import annotations
