"""Any ODBC source: the user writes one SELECT per entity and maps its columns to canonical fields.

Why: many small accounting packages (and home-grown databases) have an ODBC driver but no connector of
their own. The mapping is checked against what each SELECT really returns before anything syncs, so a typo
is a clear settings error naming the query and column, not a half-finished run. Reads wrap the user's SELECT
(``SELECT * FROM (<sql>) q``) for incremental filtering and for fetching invoice lines per page of invoices.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from functools import partial
from typing import Any

from connectors.base import (
    DEFAULT_PAGE_SIZE,
    IN_VALUES,
    ConnectionCheck,
    ConnectionFactory,
    Connector,
    RowConverter,
    StreamSpec,
)
from connectors.common import (
    QUANTITY_PLACES,
    RowProblem,
    amount,
    flag,
    optional_amount,
    pages,
    rate,
    readable_text,
    required_text,
    required_when,
    since_parameter,
    text,
    when,
)
from connectors.errors import error_from_odbc
from connectors.sql import iter_rows, quote
from connectors.unchanged import ReadItem
from core.errors import ConfigError, LedgerBridgeError
from core.records import (
    ENTITY_ORDER,
    Address,
    Customer,
    EntityName,
    Invoice,
    InvoiceLine,
    Item,
    Supplier,
    TaxRate,
)

PACKAGE = "odbc"
LINES = "invoice_lines"
_SETTINGS = "Settings > Accounting package"

REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "tax_rates": ("key", "rate"),
    "customers": ("key", "name"),
    "suppliers": ("key", "name"),
    "items": ("key", "name"),
    "invoices": ("key", "customer_key", "date", "gross"),
    LINES: ("invoice_key", "net"),
}
_PARTY_FIELDS = (
    "email",
    "phone",
    "contact_name",
    "tax_code",
    "tax_number",
    "address_1",
    "address_2",
    "address_3",
    "city",
    "region",
    "postcode",
    "country",
    "website",
    "currency",
    "active",
    "inactive",
    "deleted",
    "modified",
)
OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "tax_rates": ("code", "name", "inclusive", "active", "inactive"),
    "customers": _PARTY_FIELDS,
    "suppliers": _PARTY_FIELDS,  # mapped like a customer: the same fields
    "items": (
        "code",
        "description",
        "price",
        "cost",
        "tax_code",
        "nominal_code",
        "purchase_nominal_code",
        "is_service",
        "active",
        "inactive",
        "deleted",
        "modified",
    ),
    "invoices": (
        "number",
        "net",
        "tax",
        "due_date",
        "is_credit",
        "amount_paid",
        "outstanding",
        "paid_date",
        "currency",
        "posted",
        "reference",
        "deleted",
        "modified",
    ),
    LINES: (
        "number",
        "description",
        "quantity",
        "unit_price",
        "tax",
        "item_key",
        "tax_code",
        "tax_rate",
        "nominal_code",
    ),
}
_WHAT = {
    "tax_rates": "Tax code",
    "customers": "Customer",
    "suppliers": "Supplier",
    "items": "Item",
    "invoices": "Invoice",
}


def _strip(sql: str) -> str:
    return sql.strip().rstrip(";").strip()


class GenericODBCConnector(Connector):
    """Reads the entities the user configured, each from their own SELECT and column mapping."""

    kind = "odbc"
    display_name = "ODBC data source"
    # Its conversions read the row, an invoice's line rows (digested with it, ``_line_cells``), the column
    # maps, the queries and the columns each query returns (``conversion_context``): read_skipping is safe.
    skips_unchanged_rows = True

    def __init__(
        self,
        connect: ConnectionFactory,
        *,
        queries: Mapping[str, str],
        columns: Mapping[str, Mapping[str, str]],
        local_zone: tzinfo | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        super().__init__(connect, local_zone=local_zone, page_size=page_size)
        self.queries = {entity: _strip(sql) for entity, sql in queries.items() if sql and sql.strip()}
        self.columns = {entity: dict(mapping) for entity, mapping in columns.items()}
        self._result_columns: dict[str, dict[str, str]] = {}  # entity -> {lower name: name as returned}
        self._validated = False

    # --- declared streams ---------------------------------------------------------------------------------

    def streams(self) -> tuple[StreamSpec, ...]:
        specs = []
        for entity in ENTITY_ORDER:
            if entity not in self.queries:
                continue
            mapping = self.columns.get(entity, {})
            marker = " or ".join(
                f"{mapping[name]} ({name})" for name in ("deleted", "inactive", "active") if name in mapping
            )
            specs.append(
                StreamSpec(
                    name=entity,
                    table="(user query)",
                    key=mapping.get("key", ""),
                    replication_key=mapping.get("modified") or None,
                    deleted_marker=marker or "none mapped",
                )
            )
        return tuple(specs)

    # --- validation ---------------------------------------------------------------------------------------

    def check_mapping(self) -> None:
        """Settings-only checks (no database): known entities and fields, every required field mapped."""
        if not self.queries:
            raise ConfigError(
                "No SELECT is set for any entity of the ODBC source.",
                action=f"Enter at least the customers query and its column mapping in {_SETTINGS}.",
            )
        for entity in self.queries:
            if entity not in REQUIRED_FIELDS:
                raise ConfigError(
                    f"Unknown entity {entity!r} in the ODBC queries.",
                    action=f"Use: {', '.join(REQUIRED_FIELDS)} ({_SETTINGS}).",
                )
            mapping = self.columns.get(entity, {})
            allowed = set(REQUIRED_FIELDS[entity]) | set(OPTIONAL_FIELDS[entity])
            for field, column in mapping.items():
                if field not in allowed:
                    raise ConfigError(
                        f"The {entity} column mapping names an unknown field {field!r}.",
                        action=f"Use only: {', '.join(sorted(allowed))} ({_SETTINGS}).",
                    )
                if not column or not str(column).strip():
                    raise ConfigError(
                        f"The {entity} field {field!r} is mapped to an empty column name.",
                        action=f"Enter the column the SELECT returns for it, or remove it ({_SETTINGS}).",
                    )
            for field in REQUIRED_FIELDS[entity]:
                if field not in mapping:
                    raise ConfigError(
                        f"The {entity} query has no column mapped to the required field {field!r}.",
                        action=f"Map a column of the {entity} SELECT to {field!r} in {_SETTINGS}.",
                    )
        if LINES in self.queries and "invoices" not in self.queries:
            raise ConfigError(
                "An invoice_lines query is set without an invoices query.",
                action=f"Enter the invoices query too, or remove the invoice_lines query ({_SETTINGS}).",
            )

    def validate(self) -> None:
        """Check the mapping, then run each SELECT (returning no rows) and compare its columns to the map."""
        self.check_mapping()
        connection = self.connection()
        for entity, sql in self.queries.items():
            try:
                cursor = connection.cursor()
                cursor.execute(f"SELECT * FROM ({sql}) q WHERE 1 = 0")
                returned = [column[0] for column in cursor.description or ()]
                cursor.close()
            except Exception as exc:
                raise error_from_odbc(exc, package=PACKAGE, during=f"checking the {entity} query") from exc
            by_lower = {name.lower(): name for name in returned}
            for field, column in self.columns.get(entity, {}).items():
                if column.lower() not in by_lower:
                    raise ConfigError(
                        f"The {entity} query does not return the column {column!r} mapped to {field!r}.",
                        action=f"Fix the SELECT or the column mapping in {_SETTINGS}. "
                        f"The query returns: {', '.join(returned) or 'no columns'}.",
                    )
            self._result_columns[entity] = by_lower
        self._validated = True

    def conversion_context(self) -> object:
        """The base's, with the queries, the column maps and the columns each query returns, in order: a
        row's cells are digested by position, so a query returning its columns otherwise converts again."""
        if not self._validated:
            self.validate()
        returned = {entity: list(columns.values()) for entity, columns in self._result_columns.items()}
        return (
            super().conversion_context(),
            sorted(self.queries.items()),
            sorted((entity, sorted(mapping.items())) for entity, mapping in self.columns.items()),
            sorted(returned.items()),
        )

    # --- test connection --------------------------------------------------------------------------------

    def test_connection(self) -> ConnectionCheck:
        try:
            self.validate()
            counts = []
            for entity in self.queries:
                if entity == LINES:
                    continue
                sql = f"SELECT COUNT(*) FROM ({self.queries[entity]}) q"
                rows = list(iter_rows(self.connection(), sql, package=PACKAGE, during=f"counting {entity}"))
                count = next(iter(rows[0].values())) if rows else 0
                counts.append(f"{count} {entity.replace('_', ' ')}")
        except LedgerBridgeError as exc:
            self.close()
            return ConnectionCheck(ok=False, message=exc.message, action=exc.action, detail=exc.detail)
        self.close()
        return ConnectionCheck(
            ok=True,
            message="Connected to the ODBC data source; the queries match the mapping.",
            detail="; ".join(counts),
        )

    # --- reading ------------------------------------------------------------------------------------------

    def read(self, stream: EntityName, since: datetime | None = None) -> Iterator[ReadItem]:
        if stream not in self.queries or stream == LINES:
            raise ConfigError(
                f"No query is set for {stream} in the ODBC source.",
                action=f"Enter a SELECT and column mapping for it in {_SETTINGS}, or stop syncing it.",
            )
        if not self._validated:
            self.validate()
        return self._read(stream, since)

    def _value(self, entity: str, row: Mapping[str, Any], field: str) -> Any:
        column = self.columns.get(entity, {}).get(field)
        if column is None:
            return None
        return row.get(self._result_columns[entity][column.lower()])

    def declared_rows(
        self, spec: StreamSpec, columns: Sequence[str], since: datetime | None, *, during: str
    ) -> Iterator[dict[str, Any]]:
        """The user's SELECT as a subquery, filtered by the mapped modified column when there is one."""
        sql = f"SELECT * FROM ({self.queries[spec.name]}) q"
        params: list[Any] = []
        if since is not None and spec.replication_key:
            column = f"q.{quote(self._result_columns[spec.name][spec.replication_key.lower()])}"
            sql += f" WHERE {column} >= ? OR {column} IS NULL"
            params = [since_parameter(since, self.local_zone, self.connection())]
        return iter_rows(
            self.connection(), sql, params, page_size=self.page_size, package=PACKAGE, during=during
        )

    def key_of(self, spec: StreamSpec, row: dict[str, Any]) -> str:
        return text(self._value(spec.name, row, "key"))

    def modified_of(self, spec: StreamSpec, row: dict[str, Any]) -> datetime | None:
        return when(self._value(spec.name, row, "modified"), self.local_zone, "modified date")

    def _read(self, entity: EntityName, since: datetime | None) -> Iterator[ReadItem]:
        if entity != "invoices":
            converters: dict[str, RowConverter] = {
                "tax_rates": self._tax_rate,
                "customers": self._customer,
                "suppliers": self._supplier,
                "items": self._item,
            }
            return self.read_declared(entity, (), converters[entity], _WHAT[entity], since)
        return self._read_invoices(since)

    def _read_invoices(self, since: datetime | None) -> Iterator[ReadItem]:
        spec = self.stream("invoices")
        rows = self.declared_rows(spec, (), since, during="reading invoices")
        for page in pages(rows, self.page_size):
            lines = self._lines_for([self._value("invoices", row, "key") for row in page])
            yield from self.records(
                spec,
                page,
                partial(self._invoice_of_page, lines),
                "Invoice",
                children=partial(_line_cells, lines),
            )

    def _invoice_of_page(
        self, lines: dict[str, list[dict[str, Any]]], row: dict[str, Any], key: str
    ) -> Invoice:
        return self._invoice(row, key, lines.get(key, []))

    def _lines_for(self, keys: list[Any]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        if LINES not in self.queries:
            return found
        column = f"q.{quote(self._result_columns[LINES][self.columns[LINES]['invoice_key'].lower()])}"
        wanted = [key for key in dict.fromkeys(keys) if key is not None]
        sql = f"SELECT * FROM ({self.queries[LINES]}) q WHERE {column} {IN_VALUES}"
        for row in self.rows_in(sql, wanted, during="reading invoice lines"):
            parent = readable_text(self._value(LINES, row, "invoice_key"))
            if parent is not None:  # unreadable: the invoice with that key is a row problem of its own
                found[parent].append(row)
        return found

    def _active(self, entity: str, row: Mapping[str, Any]) -> bool:
        if "active" in self.columns.get(entity, {}):
            value = self._value(entity, row, "active")
            return True if value is None else flag(value)
        return not flag(self._value(entity, row, "inactive"))

    def _tax_rate(self, row: Mapping[str, Any], shown_key: str) -> TaxRate:
        key = required_text(self._value("tax_rates", row, "key"), "key")
        code = text(self._value("tax_rates", row, "code")) or key
        return TaxRate(
            key=key,
            code=code,
            name=text(self._value("tax_rates", row, "name")) or code,
            rate=rate(self._value("tax_rates", row, "rate")),
            inclusive=flag(self._value("tax_rates", row, "inclusive")),
            active=self._active("tax_rates", row),
        )

    def _customer(self, row: Mapping[str, Any], shown_key: str) -> Customer:
        return Customer(**self._party("customers", row))

    def _supplier(self, row: Mapping[str, Any], shown_key: str) -> Supplier:
        return Supplier(**self._party("suppliers", row))

    def _party(self, entity: str, row: Mapping[str, Any]) -> dict[str, Any]:
        """A customer's or a supplier's fields from the user's column map (both map the same fields)."""

        def get(field: str) -> Any:
            return self._value(entity, row, field)

        lines = tuple(line for line in (text(get(f"address_{n}")) for n in (1, 2, 3)) if line)
        return {
            "key": required_text(get("key"), "key"),
            "name": required_text(get("name"), "name"),
            "email": text(get("email")),
            "phone": text(get("phone")),
            "contact_name": text(get("contact_name")),
            "tax_code": text(get("tax_code")),
            "tax_number": text(get("tax_number")),
            "address": Address(
                lines=lines,
                city=text(get("city")),
                region=text(get("region")),
                postcode=text(get("postcode")),
                country=text(get("country")),
            ),
            "website": text(get("website")),
            "currency": text(get("currency")),
            "active": self._active(entity, row),
            "deleted": flag(get("deleted")),
            "modified": when(get("modified"), self.local_zone, "modified date"),
        }

    def _item(self, row: Mapping[str, Any], shown_key: str) -> Item:
        def get(field: str) -> Any:
            return self._value("items", row, field)

        key = required_text(get("key"), "key")
        description = text(get("description"))
        return Item(
            key=key,
            code=text(get("code")) or key,
            name=required_text(get("name"), "name"),
            description=description,
            price=amount(get("price"), "price", default=Decimal("0.00")),
            cost=optional_amount(get("cost"), "cost"),
            tax_code=text(get("tax_code")),
            nominal_code=text(get("nominal_code")),
            purchase_nominal_code=text(get("purchase_nominal_code")),
            is_service=flag(get("is_service")),
            active=self._active("items", row),
            deleted=flag(get("deleted")),
            modified=when(get("modified"), self.local_zone, "modified date"),
        )

    def _invoice(self, row: Mapping[str, Any], key: str, line_rows: list[dict[str, Any]]) -> Invoice:
        def get(field: str) -> Any:
            return self._value("invoices", row, field)

        zone = self.local_zone
        lines = sorted(
            (self._line(line, index) for index, line in enumerate(line_rows, 1)), key=lambda x: x.number
        )
        gross = amount(get("gross"), "gross total")
        tax = amount(get("tax"), "tax total", default=Decimal("0.00"))
        net = amount(get("net"), "net total", default=gross - tax)
        posted_value = get("posted")
        return Invoice(
            key=required_text(key, "key"),
            number=text(get("number")) or key,
            customer_key=required_text(get("customer_key"), "customer key"),
            date=required_when(get("date"), zone, "invoice date"),
            lines=tuple(lines),
            net=net,
            tax=tax,
            gross=gross,
            due_date=when(get("due_date"), zone, "due date"),
            is_credit=flag(get("is_credit")),
            amount_paid=amount(get("amount_paid"), "amount paid", default=Decimal("0.00")),
            outstanding=optional_amount(get("outstanding"), "outstanding amount"),
            paid_date=when(get("paid_date"), zone, "paid date"),
            currency=text(get("currency")),
            posted=True if posted_value is None else flag(posted_value),
            reference=text(get("reference")),
            deleted=flag(get("deleted")),
            modified=when(get("modified"), zone, "modified date"),
        )

    def _line(self, row: Mapping[str, Any], position: int) -> InvoiceLine:
        def get(field: str) -> Any:
            return self._value(LINES, row, field)

        number_value = get("number")
        try:
            number = int(number_value) if number_value is not None else position
        except (TypeError, ValueError) as exc:
            raise RowProblem(f"the line number {text(number_value)!r} is not a whole number") from exc
        label = f"line {number}"
        net = amount(get("net"), f"net amount of {label}")
        quantity = amount(
            get("quantity"), f"quantity of {label}", places=QUANTITY_PLACES, default=Decimal("1")
        )
        tax_rate_value = get("tax_rate")
        return InvoiceLine(
            number=number,
            description=text(get("description")),
            quantity=quantity,
            unit_price=amount(get("unit_price"), f"unit price of {label}", default=net),
            net=net,
            tax=amount(get("tax"), f"tax of {label}", default=Decimal("0.00")),
            item_key=text(get("item_key")),
            tax_code=text(get("tax_code")),
            tax_rate=None if tax_rate_value is None else rate(tax_rate_value, f"tax rate of {label}"),
            nominal_code=text(get("nominal_code")),
        )


def _line_cells(lines: dict[str, list[dict[str, Any]]], row: dict[str, Any], key: str) -> list[list[Any]]:
    """The cells of an invoice's line rows, as ``_invoice_of_page`` finds them: part of its digest."""
    return [list(line.values()) for line in lines.get(key, ())]
