"""Small helpers the pages share: table set-up, local-time formatting, entity names in the user's words."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

ENTITY_NAMES = {
    "tax_rates": "Tax rates",
    "customers": "Customers",
    "sites": "Main sites (addresses)",
    "suppliers": "Suppliers",
    "items": "Items",
    "invoices": "Invoices",
    "payments": "Payments",
    "posting": "Halo invoices to the books",
}
OUTCOME_NAMES = {
    "created": "Created",
    "updated": "Updated",
    "unchanged": "Unchanged",
    "deactivated": "Deactivated",
    "failed": "Failed",
    "skipped": "Skipped",
}
STATUS_NAMES = {
    "ok": "Completed",
    "partial": "Completed with problems",
    "failed": "Could not run",
    "cancelled": "Cancelled",
    "running": "Running",
}


# Books -> Halo in dependency order, then the Halo -> books posting (sync/posting.py's ENTITY).
ENTITY_ORDER = ("tax_rates", "customers", "sites", "suppliers", "items", "invoices", "payments", "posting")


def in_entity_order(counts: dict[str, dict[str, int]]) -> list[tuple[str, dict[str, int]]]:
    """Per-entity counts in the order a sync runs them (tax rates first, payments last)."""
    rank = {entity: n for n, entity in enumerate(ENTITY_ORDER)}
    return sorted(counts.items(), key=lambda pair: (rank.get(pair[0], len(rank)), pair[0]))


def stretch_columns(table: QTableWidget) -> None:
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)


def entity_name(entity: str) -> str:
    return ENTITY_NAMES.get(entity, entity.replace("_", " ").capitalize())


def local_time(value: datetime | None) -> str:
    """A timestamp in this PC's time zone, to the minute (seconds are noise for a person)."""
    if value is None:
        return "—"
    return value.astimezone().strftime("%d %b %Y %H:%M")


def when_text(value: datetime | None) -> str:
    """A moment as a person says it: "today 09:16", "yesterday 17:05", "tomorrow 08:00", else the date."""
    if value is None:
        return "—"
    local = value.astimezone()
    days = (local.date() - datetime.now().astimezone().date()).days
    word = {0: "today", -1: "yesterday", 1: "tomorrow"}.get(days)
    return f"{word} {local.strftime('%H:%M')}" if word else local_time(value)


def duration_text(value: timedelta | None) -> str:
    """How long something took, as a person says it: "12 s", "3 min 5 s", "1 h 20 min"."""
    if value is None:
        return "—"
    if value.total_seconds() < 1:
        return "under 1 s"
    seconds = round(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def countdown_text(seconds: float) -> str:
    """Time left, to the second under an hour (so a countdown visibly moves), to the minute beyond."""
    whole = max(0, math.ceil(seconds))
    if whole < 3600:
        minutes, secs = divmod(whole, 60)
        return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"
    hours, rest = divmod(whole, 3600)
    minutes = rest // 60
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def read_only_table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def cell(text: object) -> QTableWidgetItem:
    return QTableWidgetItem("" if text is None else str(text))
