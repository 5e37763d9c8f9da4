"""Fixtures: fixtures_halo."""

from __future__ import annotations
