"""Sage 50 Canada (ex-Simply Accounting): read the company's own MySQL database ``simply`` over ODBC.

Why this shape: Sage 50 CA keeps each company in a MySQL 8 datadir that runs only while the company is open in
Sage (port 13540 by default). A third-party user with the "Read data" right may SELECT from it, so every
stream is plain SQL over the real tables (``tcustomr``, ``tinvent``, ``titrec``, ``tcustr``...). We never
write here: Sage hands out ids from counters and has no referential integrity.

Facts the code relies on (see accounting-packages.md §2 and §4):
- tax codes carry their rates only in the description text ("GST @ 5%; QST @ 9.975%", "HST @ 13%, included"),
  so rates are parsed from ``ttaxcode.sDesc``; authority names are checked against ``ttaxauth``;
- there is no modified index, only the last-save stamp ``dtASDate`` (date) + ``tmASTime`` (time of day, local
  time): ``since`` is compared in SQL on the pair, rows with a NULL stamp are always read, and the exact
  comparison is repeated in Python on the combined aware timestamp;
- an invoice (``titrec``) links to its receivables document (``tcustr``) by ``sSource1`` + ``lVenCusId``; the
  outstanding amount is the sum (the residual) of that document's ``tcustrdt.dAmount``, and receipts are
  details of ``nTranType`` 1;
- a document number is not unique: a posted, corrected and reposted invoice leaves two entries with the same
  customer and number, and only the last (highest ``lId``) is live. The earlier one is yielded as deleted
  (superseded) and only the last ``tcustr`` document of a customer and number is summed;
- credits are told by sign (a reversal, ``bReversal``, or a negative ``dInvAmt``), not by ``nTranType``, whose
  meanings public scripts disagree on;
- a receipt is a negative application; a returned cheque or reversed receipt is a positive one that cancels
  the receipt before it (flagged ``bReversed`` pairs are skipped too), so ``abs()`` never turns it into a
  second payment.
docs/connectors.md records the sources and how sure each point is.
Reads page with keyset pagination (``WHERE lId > ? ORDER BY lId LIMIT n``): each page is one small query, so
memory stays flat even though the MySQL ODBC driver buffers a whole result set client-side.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar

from connectors.base import IN_VALUES, ConnectionCheck, Connector, StreamReader, StreamSpec, TableUse
from connectors.common import (
    CONVERSION_ERRORS,
    QUANTITY_PLACES,
    RowProblem,
    amount,
    changed_since,
    flag,
    flag_or_false,
    readable_text,
    required_text,
    row_problem,
    text,
)
from connectors.errors import error_from_odbc, sqlstate_of
from connectors.unchanged import ReadItem
from core.errors import LedgerBridgeError, TransientError
from core.records import (
    CENT,
    RATE_PLACES,
    Address,
    Customer,
    EntityName,
    Invoice,
    InvoiceLine,
    Item,
    Payment,
    Record,
    SourceProblem,
    Supplier,
    TaxComponent,
    TaxRate,
    clean_text,
    to_decimal,
)

PACKAGE = "sage50ca"
DEFAULT_PORT = 13540

DOC_INVOICE = 0  # tcustr.nTranType
DOC_RECEIPT = 1
DOC_CREDIT_NOTE = 8
REGULAR_PRICE_LIST = 1  # tinvprc.lPrcListId of the "Regular" price list [I: inferred, not verified]
HOME_CURRENCY = 0  # tinvprc.lCurrncyId of home-currency prices [I: inferred, not verified]
_ZERO = Decimal("0.00")
_QUANTITY = QUANTITY_PLACES

# Every table and the columns read from it (the doctor probes exactly these). tcustomr and tvendor share one
# column list: the vendor ledger's columns are inferred from the customer ledger's (docs/connectors.md).
_LEDGER_COLUMNS = (
    "lId",
    "sName",
    "sCntcName",
    "sStreet1",
    "sStreet2",
    "sCity",
    "sProvState",
    "sCountry",
    "sPostalZip",
    "sPhone1",
    "sEmail",
    "sWebSite",
    "lTaxCode",
    "bInactive",
    "dtASDate",
    "tmASTime",
)
_TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "ttaxauth": ("sName",),
    "ttaxcode": ("lId", "sCode", "sDesc", "bHidden"),
    "tcustomr": _LEDGER_COLUMNS,
    # The vendor ledger: tcustomr's twin (docs/connectors.md: the name is public, the columns inferred).
    "tvendor": _LEDGER_COLUMNS,
    "tinvent": ("lId", "sPartCode", "sName", "bService", "bInactive", "dtASDate", "tmASTime"),
    "tinvprc": ("lInventId", "lPrcListId", "lCurrncyId", "dPrice"),
    "titrec": (
        "lId",
        "lVenCusId",
        "dtJournal",
        "sSource1",
        "sComment",
        "dFreight",
        "dInvAmt",
        "bReversal",
        "bReversed",
        "dtASDate",
        "tmASTime",
    ),
    "titlu": ("lITRecId", "sPONum"),
    "titrline": ("lITRecId", "nLineNum", "lInventId", "lAcctId", "dQty", "dPrice", "dAmt"),
    "titluli": ("lITRecId", "nLineNum", "sItem", "sDesc", "lTaxCode", "dTaxAmt"),
    "tcustr": ("lId", "lCusId", "sSource", "nTranType"),
    "tcustrdt": (
        "lCusTrId",
        "nLineNum",
        "nTranType",
        "dtDate",
        "sSource",
        "dAmount",
        "bReversed",
        "dtASDate",
        "tmASTime",
    ),
}
# Tables read with a join: (extra columns, joins). Items take the Regular price list in the home currency.
_JOINS = {
    "tinvent": (
        ", p.dPrice",
        f" LEFT JOIN tinvprc p ON p.lInventId = t.lId AND p.lPrcListId = {REGULAR_PRICE_LIST} "
        f"AND p.lCurrncyId = {HOME_CURRENCY}",
    )
}
_STOPS = '{stream} cannot be read: every sync stops at {stream} with "does not have the table or column"'
_WITHOUT = {
    "ttaxauth": _STOPS.format(stream="tax codes"),
    "ttaxcode": _STOPS.format(stream="tax codes"),
    "tcustomr": _STOPS.format(stream="customers"),
    "tvendor": _STOPS.format(stream="suppliers"),
    "tinvent": _STOPS.format(stream="items"),
    "tinvprc": _STOPS.format(stream="items") + " (prices come from the Regular price list)",
}
TABLE_USES: tuple[TableUse, ...] = tuple(
    TableUse(
        table,
        columns,
        _WITHOUT.get(table, _STOPS.format(stream="invoices")),
        count=table in ("ttaxcode", "tcustomr", "tvendor", "tinvent", "titrec"),
        money=tuple(column for column in columns if column.startswith("d") and not column.startswith("dt")),
        dates=tuple(column for column in columns if column.startswith(("dt", "tm"))),
    )
    for table, columns in _TABLE_COLUMNS.items()
)

_TAX_COMPONENT = re.compile(
    r"(?P<authority>[^\W\d_][\w .'()/-]*?)\s*@\s*(?P<rate>\d{1,3}(?:[.,]\d{1,6})?)\s*%", re.UNICODE
)
_INCLUDED_WORDS = {"included", "incl", "incl.", "tax included", "inclus", "incluse", "taxe incluse"}
_HARMLESS_WORDS = {"", "non-refundable", "refundable", "non refundable"}

_UNREACHABLE_CODES = ("(2002)", "(2003)", "(2005)", "(2013)", "can't connect", "lost connection")

_OPEN_THE_COMPANY = (
    "Open the company in Sage 50 Canada on this computer (its database runs only while the company is "
    "open), then try again. If it is open, check the server and port (13540 by default) in Settings > "
    "Accounting package."
)


class TaxDescriptionError(ValueError):
    """A tax code's description could not be read as 'AUTHORITY @ RATE%[, included]; ...'."""


def parse_tax_description(text: str, known_authorities: dict[str, str] | None = None) -> TaxRate:
    """Parse Sage 50 CA's tax text into rate (sum), inclusive flag and one component per authority.

    The returned TaxRate has empty key/code/name; the caller fills them. ``known_authorities`` maps an upper
    case name to ttaxauth.sName so components carry Sage's own spelling.
    """
    description = clean_text(text)
    matches = list(_TAX_COMPONENT.finditer(description))
    if not matches:
        raise TaxDescriptionError(f"no 'TAX @ RATE%' part in {description!r}")
    if description[: matches[0].start()].strip(" ;,"):
        raise TaxDescriptionError(f"unexpected text before the first tax in {description!r}")
    components: list[TaxComponent] = []
    included_flags: list[bool] = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(description)
        words = [word.strip().lower() for word in re.split(r"[,;]", description[match.end() : end])]
        included = False
        for word in words:
            if word in _INCLUDED_WORDS:
                included = True
            elif word not in _HARMLESS_WORDS:
                raise TaxDescriptionError(f"unexpected text {word!r} in {description!r}")
        authority = match.group("authority").strip()
        if known_authorities:
            authority = known_authorities.get(authority.upper(), authority)
        rate = to_decimal(match.group("rate").replace(",", "."), RATE_PLACES)
        components.append(TaxComponent(authority=authority, rate=rate))
        included_flags.append(included)
    if any(included_flags) and not all(included_flags):
        raise TaxDescriptionError(f"part of the tax is included in prices and part is not in {description!r}")
    total = sum((component.rate for component in components), Decimal(0)).quantize(RATE_PLACES)
    return TaxRate(
        key="", code="", name="", rate=total, inclusive=all(included_flags), components=tuple(components)
    )


def _as_time(value: object) -> time | None:
    """MySQL TIME arrives as datetime.time, a timedelta (some drivers) or text."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.time()
    if isinstance(value, time):
        return value
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        if not 0 <= seconds < 86400:
            raise ValueError(f"not a time of day: {value!r}")
        return time(seconds // 3600, seconds // 60 % 60, seconds % 60)
    text = str(value).strip()
    if not text:
        return None
    return time.fromisoformat(text)


def _as_date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    return date.fromisoformat(text[:10])


def _key(value: object) -> str:
    """A Sage id as text: '42', never '42.0'; '' for NULL or 0 (Sage's "none")."""
    if value is None:
        return ""
    number = int(Decimal(str(value).strip()))
    return "" if number == 0 else str(number)


class Sage50CAConnector(Connector):
    """Sage 50 Canada through its MySQL database (MariaDB/MySQL ODBC driver; SQLite in the stand-in)."""

    kind: ClassVar[str] = "sage50ca"
    display_name: ClassVar[str] = "Sage 50 Canada"
    exact_since_in_python: ClassVar[bool] = True  # the stamp is a date and a time of day in two columns
    # Its customers and items go through the declared loop, whose converters read the row and the zone
    # (``conversion_context`` names the one in use): those rows are skipped when known. Its tax codes and
    # invoices have readers of their own (authorities, ledger tables) and are converted every time.
    skips_unchanged_rows: ClassVar[bool] = True

    def conversion_context(self) -> object:
        """The base's, with the zone stamps are read in: this PC's when none is set, which can change."""
        return (super().conversion_context(), repr(self._zone))

    # --- declaration --------------------------------------------------------------------------------------

    def streams(self) -> tuple[StreamSpec, ...]:
        stamp = "dtASDate"
        note = "dtASDate + tmASTime: last save, local time; NULL stamps always read; keyset pages by lId"
        return (
            StreamSpec(
                "tax_rates", "ttaxcode", "lId", None, "bHidden=1", "rates parsed from sDesc; full read"
            ),
            StreamSpec("customers", "tcustomr", "lId", stamp, "bInactive=1", note),
            StreamSpec("suppliers", "tvendor", "lId", stamp, "bInactive=1", note),
            StreamSpec("items", "tinvent", "lId", stamp, "bInactive=1", note + "; price from tinvprc"),
            StreamSpec(
                "invoices",
                "titrec",
                "lId",
                stamp,
                "bReversed=1 (cancelled by a bReversal=1 entry, read as a credit note); an entry superseded "
                "by a later one with the same customer and number (reposted) is deleted",
                note + "; also tcustrdt stamps of the linked tcustr document",
            ),
        )

    def tables(self) -> tuple[TableUse, ...]:
        return TABLE_USES

    def package_facts(self) -> list[tuple[str, str]]:
        """The price lists and currencies of tinvprc: the join on list 1 / currency 0 is inferred."""
        try:
            pairs = [
                f"list {row['lPrcListId']}, currency {row['lCurrncyId']}: {row['n']} prices"
                for row in self.rows(
                    "SELECT lPrcListId, lCurrncyId, COUNT(*) AS n FROM tinvprc "
                    "GROUP BY lPrcListId, lCurrncyId ORDER BY lPrcListId, lCurrncyId",
                    during="reading price lists",
                )
            ]
        except LedgerBridgeError as exc:
            return [("Item prices (tinvprc)", f"could not be read ({exc.message})")]
        return [("Item prices (tinvprc)", "; ".join(pairs) or "none")]

    # --- connection -----------------------------------------------------------------------------------------

    def connect_error(self, exc: BaseException) -> LedgerBridgeError:
        return _connect_error(exc)

    def test_connection(self) -> ConnectionCheck:
        try:
            customers = self.scalar("SELECT COUNT(*) FROM tcustomr", "counting customers")
            invoices = self.scalar("SELECT COUNT(*) FROM titrec", "counting invoices")
            codes = self.scalar("SELECT COUNT(*) FROM ttaxcode", "reading tax codes")
        except LedgerBridgeError as error:
            return ConnectionCheck(False, error.message, error.action, error.detail)
        return ConnectionCheck(
            True,
            "Connected to the Sage 50 Canada company.",
            detail=f"{customers} customers; {invoices} sales/purchase records; {codes} tax codes",
        )

    # --- reading --------------------------------------------------------------------------------------------

    def read(self, stream: EntityName, since: datetime | None = None) -> Iterator[ReadItem]:
        readers: dict[str, StreamReader] = {
            "tax_rates": self._read_tax_rates,
            "customers": partial(
                self.read_declared, "customers", _TABLE_COLUMNS["tcustomr"], self._customer, "Customer"
            ),
            "suppliers": partial(
                self.read_declared, "suppliers", _TABLE_COLUMNS["tvendor"], self._supplier, "Supplier"
            ),
            "items": partial(self.read_declared, "items", _TABLE_COLUMNS["tinvent"], self._item, "Item"),
            "invoices": self._read_invoices,
        }
        if stream not in readers:
            raise KeyError(f"Sage 50 Canada has no stream {stream!r}")
        return readers[stream](since)

    @property
    def _zone(self) -> tzinfo:
        return self.local_zone or datetime.now().astimezone().tzinfo or UTC

    def _stamp(self, row: dict[str, Any], prefix: str = "") -> datetime | None:
        """dtASDate + tmASTime as one aware timestamp (None when either half is missing)."""
        try:
            day = _as_date(row.get(prefix + "dtASDate"))
            clock = _as_time(row.get(prefix + "tmASTime"))
        except ValueError as exc:
            raise RowProblem(f"its last-saved stamp is not a date and time ({exc})") from exc
        if day is None or clock is None:
            return None
        return datetime.combine(day, clock, tzinfo=self._zone)

    def _since_filter(self, alias: str, since: datetime | None) -> tuple[str, list[Any]]:
        """SQL that keeps rows saved at or after ``since`` (local date + time) and rows with no stamp."""
        if since is None:
            return "", []
        local = since.astimezone(self._zone).replace(microsecond=0)
        day, clock = local.date().isoformat(), local.time().isoformat()
        sql = (
            f"({alias}.dtASDate IS NULL OR {alias}.tmASTime IS NULL OR {alias}.dtASDate > ? "
            f"OR ({alias}.dtASDate = ? AND {alias}.tmASTime >= ?))"
        )
        return sql, [day, day, clock]

    def _keyset_pages(
        self, select: str, where: Sequence[str], params: Sequence[Any], key: str, during: str
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield pages of ``select`` ordered by ``key`` (an integer column), one bounded query per page."""
        last = -(2**62)
        while True:
            conditions = [f"{key} > ?", *where]
            sql = f"{select} WHERE {' AND '.join(conditions)} ORDER BY {key} LIMIT {int(self.page_size)}"
            page = list(self.rows(sql, [last, *params], during=during))
            if not page:
                return
            yield page
            if len(page) < self.page_size:
                return
            last = page[-1]["lId"]

    # tax codes -------------------------------------------------------------------------------------------

    def _authorities(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for row in self.rows("SELECT sName FROM ttaxauth", during="reading tax authorities"):
            name = clean_text(row["sName"])
            if name:
                names[name.upper()] = name
        return names

    def _read_tax_rates(self, since: datetime | None) -> Iterator[ReadItem]:
        authorities = self._authorities()
        sql = "SELECT lId, sCode, sDesc, bHidden FROM ttaxcode ORDER BY lId"
        for row in self.rows(sql, during="reading tax codes"):
            yield self._tax_rate(row, authorities)

    def _tax_rate(self, row: dict[str, Any], authorities: dict[str, str]) -> TaxRate | SourceProblem:
        raw_key = row.get("lId")
        try:
            key = _key(raw_key) or "0"
            code = text(row.get("sCode"))
            description = text(row.get("sDesc"))
            parsed = parse_tax_description(description, authorities)
            return TaxRate(
                key=key,
                code=code,
                name=description,
                rate=parsed.rate,
                inclusive=parsed.inclusive,
                components=parsed.components,
                active=not flag(row.get("bHidden")),
            )
        except (ValueError, ArithmeticError, TypeError) as exc:
            code = clean_text(row.get("sCode"))
            return SourceProblem(
                "tax_rates",
                clean_text(raw_key),
                f"Sage 50 Canada tax code {code!r}: its description {clean_text(row.get('sDesc'))!r} could "
                f"not be read as rates like 'GST @ 5%; QST @ 9.975%' ({exc}).",
                action="Map this tax code to a Halo tax by hand in Mappings > Tax codes (or correct its "
                "description in Sage 50 Canada: Setup > Settings > Taxes).",
            )

    def _tax_rate_by_key(self) -> dict[str, Decimal]:
        rates: dict[str, Decimal] = {}
        authorities = self._authorities()
        for row in self.rows("SELECT lId, sCode, sDesc, bHidden FROM ttaxcode", during="reading tax codes"):
            record = self._tax_rate(row, authorities)
            if isinstance(record, TaxRate):
                rates[record.key] = record.rate
        return rates

    # customers ---------------------------------------------------------------------------------------------

    def declared_rows(
        self, spec: StreamSpec, columns: Sequence[str], since: datetime | None, *, during: str
    ) -> Iterator[dict[str, Any]]:
        """The declared columns of the stream's table (alias ``t``, plus a table's joins), in keyset pages by
        its key: each page one bounded query, as the MySQL driver buffers whole result sets."""
        extra, joins = _JOINS.get(spec.table, ("", ""))
        select = f"SELECT {', '.join(f't.{column}' for column in columns)}{extra} FROM {spec.table} t{joins}"
        where, params = self.since_filter(spec, since)
        for page in self._keyset_pages(select, [where] if where else [], params, f"t.{spec.key}", during):
            yield from page

    def since_filter(self, spec: StreamSpec, since: datetime | None) -> tuple[str, list[Any]]:
        return self._since_filter("t", since)

    def modified_of(self, spec: StreamSpec, row: dict[str, Any]) -> datetime | None:
        return self._stamp(row)

    def _party(self, row: dict[str, Any]) -> dict[str, Any]:
        """What a customer (tcustomr) and a vendor (tvendor) row have in common, same columns in both."""
        key = _key(row.get("lId"))
        if not key:
            raise RowProblem("it has no id")
        return {
            "key": key,
            "name": required_text(text(row.get("sName"), 52), "name"),
            "email": text(row.get("sEmail")),
            "phone": text(row.get("sPhone1")),
            "contact_name": text(row.get("sCntcName")),
            "tax_code": _key(row.get("lTaxCode")),
            "address": Address(
                lines=tuple(line for line in (text(row.get("sStreet1")), text(row.get("sStreet2"))) if line),
                city=text(row.get("sCity")),
                region=text(row.get("sProvState")),
                postcode=text(row.get("sPostalZip")),
                country=text(row.get("sCountry")),
            ),
            "website": text(row.get("sWebSite")),
            "active": not flag(row.get("bInactive")),
            "modified": self._stamp(row),
        }

    def _customer(self, row: dict[str, Any], shown_key: str) -> Customer:
        return Customer(**self._party(row))

    def _supplier(self, row: dict[str, Any], shown_key: str) -> Supplier:
        return Supplier(**self._party(row))

    # items -------------------------------------------------------------------------------------------------

    def _item(self, row: dict[str, Any], shown_key: str) -> Item:
        key = _key(row.get("lId"))
        if not key:
            raise RowProblem("it has no id")
        code = text(row.get("sPartCode"))
        name = text(row.get("sName")) or code
        if not code and not name:
            raise RowProblem("it has neither a number nor a name")
        return Item(
            key=key,
            code=code or name,
            name=name,
            price=amount(row.get("dPrice"), "price", default=_ZERO),
            is_service=flag(row.get("bService")),
            active=not flag(row.get("bInactive")),
            modified=self._stamp(row),
        )

    # invoices ----------------------------------------------------------------------------------------------

    def _read_invoices(self, since: datetime | None) -> Iterator[ReadItem]:
        rates = self._tax_rate_by_key()
        select = (
            "SELECT h.lId, h.lVenCusId, h.dtJournal, h.sSource1, h.sComment, h.dFreight, h.dInvAmt, "
            "h.bReversal, h.bReversed, h.dtASDate, h.tmASTime, lu.sPONum "
            "FROM titrec h LEFT JOIN titlu lu ON lu.lITRecId = h.lId"
        )
        is_sale = (
            "EXISTS (SELECT 1 FROM tcustr d WHERE d.lCusId = h.lVenCusId AND d.sSource = h.sSource1 "
            f"AND d.nTranType IN ({DOC_INVOICE}, {DOC_CREDIT_NOTE}))"
        )
        where = [is_sale]
        params: list[Any] = []
        header_filter, header_params = self._since_filter("h", since)
        if header_filter:
            detail_filter, detail_params = self._since_filter("x", since)
            where.append(
                f"({header_filter} OR EXISTS (SELECT 1 FROM tcustr d2 JOIN tcustrdt x ON x.lCusTrId = d2.lId "
                f"WHERE d2.lCusId = h.lVenCusId AND d2.sSource = h.sSource1 AND {detail_filter}))"
            )
            params = [*header_params, *detail_params]
        for page in self._keyset_pages(select, where, params, "h.lId", "reading invoices"):
            lines = self._lines_for(page)
            details = self._details_for(page)
            live = self._live_entries(page)
            for header in page:
                try:
                    record: Record | SourceProblem = self._invoice(header, lines, details, rates, live)
                except CONVERSION_ERRORS as exc:
                    record = row_problem(
                        "invoices",
                        clean_text(header.get("lId")),  # the key as Sage shows it
                        exc,
                        what=f"Invoice {clean_text(header.get('sSource1'))!r}",
                        modified=partial(self._stamp, header),
                    )
                if changed_since(record, since):
                    yield record

    def _lines_for(self, page: list[dict[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
        grouped: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        sql = (
            "SELECT l.lITRecId, l.nLineNum, l.lInventId, l.lAcctId, l.dQty, l.dPrice, l.dAmt, "
            "u.sItem, u.sDesc, u.lTaxCode, u.dTaxAmt "
            "FROM titrline l LEFT JOIN titluli u ON u.lITRecId = l.lITRecId AND u.nLineNum = l.nLineNum "
            f"WHERE l.lITRecId {IN_VALUES} ORDER BY l.lITRecId, l.nLineNum"
        )
        for row in self.rows_in(sql, [row["lId"] for row in page], during="reading invoice lines"):
            grouped[row["lITRecId"]].append(row)
        return grouped

    def _sources(self, page: list[dict[str, Any]]) -> list[str]:
        return sorted({row["sSource1"] for row in page if row["sSource1"] is not None})

    def _live_entries(self, page: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
        """(customer, number) -> lId of its live entry: the last one that is neither a reversal nor reversed.

        A reposted invoice leaves earlier entries with the same customer and number; they may lie on other
        pages, so all entries of the page's numbers are looked at.
        """
        live: dict[tuple[str, str], Any] = {}
        sql = (
            "SELECT h.lId, h.lVenCusId, h.sSource1, h.bReversal, h.bReversed FROM titrec h "
            f"WHERE h.sSource1 {IN_VALUES} ORDER BY h.lId"
        )
        for row in self.rows_in(sql, self._sources(page), during="reading reposted invoices"):
            number = readable_text(row["sSource1"])
            if number is None:  # the page's invoice with that number is a row problem of its own
                continue
            if flag_or_false(row.get("bReversal")) or flag_or_false(row.get("bReversed")):
                continue
            live[(_key(row["lVenCusId"]), number)] = row["lId"]
        return live

    def _details_for(self, page: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """The live receivables document's details by (customer id, document number): the last document."""
        documents: dict[tuple[str, str], dict[Any, list[dict[str, Any]]]] = defaultdict(dict)
        sql = (
            "SELECT d.lId AS docId, d.lCusId, d.sSource, x.nLineNum, x.nTranType, "
            "x.dtDate, x.sSource AS sRef, "
            "x.dAmount, x.bReversed, x.dtASDate, x.tmASTime "
            "FROM tcustr d JOIN tcustrdt x ON x.lCusTrId = d.lId "
            f"WHERE d.sSource {IN_VALUES} AND d.nTranType IN ({DOC_INVOICE}, {DOC_CREDIT_NOTE}) "
            "ORDER BY d.lId, x.nLineNum"
        )
        for row in self.rows_in(sql, self._sources(page), during="reading receivables"):
            number = readable_text(row["sSource"])
            if number is None:  # as in _live_entries: its invoice is a row problem of its own
                continue
            found = documents[(_key(row["lCusId"]), number)]
            found.setdefault(row["docId"], []).append(row)
        return {key: found[max(found)] for key, found in documents.items()}

    def _invoice(
        self,
        header: dict[str, Any],
        lines: dict[Any, list[dict[str, Any]]],
        details: dict[tuple[str, str], list[dict[str, Any]]],
        rates: dict[str, Decimal],
        live: dict[tuple[str, str], Any],
    ) -> Invoice:
        raw_key = header.get("lId")
        key = _key(raw_key)
        customer_key = _key(header.get("lVenCusId"))
        number = text(header.get("sSource1"))
        if not key or not customer_key:
            raise RowProblem("it has no id or no customer")
        modified = self._stamp(header)
        day = _as_date(header.get("dtJournal"))
        if day is None:
            raise RowProblem("it has no date")
        total = amount(header.get("dInvAmt"), "invoice total")
        is_reversal = flag(header.get("bReversal"))
        is_reversed = flag(header.get("bReversed"))
        superseded = (
            not is_reversal and not is_reversed and live.get((customer_key, number), raw_key) != raw_key
        )
        document = [] if superseded else details.get((customer_key, number), [])
        is_credit = is_reversal or total < 0  # by sign, not by nTranType
        sign = Decimal(-1) if total < 0 else Decimal(1)

        invoice_lines = tuple(self._line(row, sign, rates) for row in lines.get(raw_key, []))
        tax = sum((line.tax for line in invoice_lines), _ZERO)
        gross = abs(total)
        freight = self._freight_line(header, invoice_lines, total, sign)
        if freight is not None:
            invoice_lines = (*invoice_lines, freight)
        for row in document:
            stamp = self._stamp(row)
            if stamp is not None and (modified is None or stamp > modified):
                modified = stamp

        payments: tuple[Payment, ...] = ()
        if is_reversal or is_reversed:
            outstanding: Decimal | None = _ZERO  # the pair cancels: nothing is owed on either half
        elif document:
            residual = sum((amount(row["dAmount"], "receivable amount") for row in document), _ZERO)
            outstanding = -residual if is_credit else residual
            payments = self._payments(document, key, customer_key, is_credit)
        else:
            outstanding = None
        amount_paid = sum((payment.amount for payment in payments), _ZERO)
        paid_date = max((payment.date for payment in payments), default=None) if outstanding == 0 else None
        return Invoice(
            key=key,
            number=number,
            customer_key=customer_key,
            date=self._day_start(day),
            lines=invoice_lines,
            net=(gross - tax).quantize(CENT),
            tax=tax,
            gross=gross,
            is_credit=is_credit,
            amount_paid=amount_paid,
            outstanding=outstanding,
            paid_date=paid_date,
            reference=text(header.get("sPONum")) or text(header.get("sComment")),
            payments=payments,
            deleted=superseded,
            modified=modified,
        )

    @staticmethod
    def _freight_line(
        header: dict[str, Any], lines: tuple[InvoiceLine, ...], total: Decimal, sign: Decimal
    ) -> InvoiceLine | None:
        """titrec.dFreight as a carriage line, when the total shows it is part of it (lines + tax + freight).

        Whether dInvAmt includes freight is not documented: the line is added only when the figures say so,
        so the lines add up to the total either way.
        """
        freight = amount(header.get("dFreight"), "freight", default=_ZERO)
        if not freight:
            return None
        lines_total = sum((line.net + line.tax for line in lines), _ZERO)
        if lines_total + freight * sign != total:
            return None
        return InvoiceLine(
            number=max((line.number for line in lines), default=0) + 1,
            description="Freight",
            quantity=Decimal("1.0000") * sign,
            unit_price=freight,
            net=freight * sign,
            tax=_ZERO,
            kind="carriage",
        )

    def _payments(
        self, document: list[dict[str, Any]], key: str, customer_key: str, is_credit: bool
    ) -> tuple[Payment, ...]:
        """Receipts applied to the document, in order; a reversing (opposite-sign) receipt cancels the last
        receipt of the same amount before it, so a returned cheque is neither a payment nor two."""
        applied: list[Payment] = []
        direction = Decimal(1) if is_credit else Decimal(-1)  # an invoice's receipts are negative
        for row in document:
            if row["nTranType"] != DOC_RECEIPT or flag_or_false(row.get("bReversed")):
                continue
            value = amount(row["dAmount"], "receipt amount") * direction
            if value > 0:
                applied.append(
                    Payment(
                        key=f"{_key(row['docId'])}-{int(row['nLineNum'])}",
                        invoice_key=key,
                        customer_key=customer_key,
                        date=self._day_start(row["dtDate"]),
                        amount=value,
                        reference=text(row.get("sRef")),
                        modified=self._stamp(row),
                    )
                )
                continue
            for index in range(len(applied) - 1, -1, -1):
                if applied[index].amount == -value:
                    del applied[index]
                    break
        return tuple(applied)

    def _day_start(self, value: object) -> datetime:
        day = _as_date(value)
        if day is None:
            raise RowProblem("a date is missing")
        return datetime.combine(day, time.min, tzinfo=self._zone)

    def _line(self, row: dict[str, Any], sign: Decimal, rates: dict[str, Decimal]) -> InvoiceLine:
        tax_code = _key(row.get("lTaxCode"))
        number = int(row["nLineNum"])
        quantity = amount(row.get("dQty"), f"quantity of line {number}", places=_QUANTITY, default=Decimal(0))
        return InvoiceLine(
            number=number,
            description=text(row.get("sDesc")) or text(row.get("sItem")),
            quantity=(quantity * sign).quantize(_QUANTITY),
            unit_price=amount(row.get("dPrice"), f"price of line {number}", default=_ZERO),
            net=amount(row.get("dAmt"), f"amount of line {number}") * sign,
            tax=amount(row.get("dTaxAmt"), f"tax of line {number}", default=_ZERO) * sign,
            item_key=_key(row.get("lInventId")),
            tax_code=tax_code,
            tax_rate=rates.get(tax_code),
            nominal_code=_key(row.get("lAcctId")),
        )


def _connect_error(exc: BaseException) -> LedgerBridgeError:
    """A failed connect: a refused port means Sage (and so its MySQL) is not running with the company open."""
    text = str(exc).lower()
    state = sqlstate_of(exc)
    if any(code in text for code in _UNREACHABLE_CODES) or state in ("08001", "08S01", "HYT00"):
        return TransientError(
            "Sage 50 Canada's company database is not running: the company is not open in Sage 50 Canada.",
            action=_OPEN_THE_COMPANY,
            detail=f"SQLSTATE {state}: {exc.args[1] if len(exc.args) > 1 else exc}" if state else str(exc),
        )
    return error_from_odbc(exc, package=PACKAGE, during="connecting")
