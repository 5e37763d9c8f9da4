"""Small helpers the pages share: table set-up, local-time formatting, entity names in the user's words."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

ENTITY_NAMES = {
    "tax_rates": "Tax rates",
    "customers": "Customers",
    "sites": "Sites",
    "items": "Items",
    "invoices": "Invoices",
    "payments": "Payments",
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


ENTITY_ORDER = ("tax_rates", "customers", "sites", "items", "invoices", "payments")


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
