"""Fixtures: fixtures_sync."""

from __future__ import annotations
