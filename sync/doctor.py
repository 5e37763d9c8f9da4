"""``ledgerbridge doctor``: what the books and Halo really look like from this PC, in plain words.

Why: the connectors were written from published schemas and stand-ins, not from real installs. The doctor
lets a customer's PC tell us where we are wrong: it probes every table and column the chosen connector reads
(``SELECT ... WHERE 1 = 0``), names the ODBC driver and its version, counts the rows of each stream, shows the
SQL type the driver declares for the columns we convert, and asks Halo which endpoints answer and which
fields its list rows carry for the fields we match on. Each finding says what is missing, what LedgerBridge
does without it, and what the user can do. No Qt here: the CLI and the GUI both call ``run_doctor``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from connectors.base import Connector, TableUse
from connectors.errors import error_from_odbc
from core.errors import LedgerBridgeError

log = logging.getLogger("ledgerbridge.doctor")

Severity = Literal["ok", "info", "warning", "problem"]

# The fields LedgerBridge matches on in each Halo list (halo/resources.py key fields and the main site),
# and what it does when list rows leave one out (Halo's list rows are partial objects: fidelity-notes.md).
HALO_MATCH_FIELDS: dict[str, dict[str, str]] = {
    "Tax": {"third_party_id": "tax rates are matched by name only, and may be created twice in Halo"},
    "Client": {
        "accountsid": "customers created before (or by another tool) are found by name only",
        "main_site_id": "each customer is read again by id to find its main site (one extra request each)",
    },
    "Site": {"accountsid": "a customer's main site is found through the customer instead of its own key"},
    "Item": {"accountsid": "items are matched by name only, and may be created twice in Halo"},
    "Invoice": {
        "accountsid": "invoices are found by their number only",
        "thirdpartyinvoicenumber": "invoices sent before cannot be found by number after the state store is "
        "lost, and could be created twice",
    },
    "InvoicePayment": {"thirdpartyid": "payments sent before cannot be recognised and could be sent twice"},
}

# ODBC SQLGetInfo codes (sql.h); pyodbc exposes them under these names.
_GETINFO = (
    ("Driver", "SQL_DRIVER_NAME"),
    ("Driver version", "SQL_DRIVER_VER"),
    ("Driver ODBC version", "SQL_DRIVER_ODBC_VER"),
    ("Driver manager version", "SQL_DM_VER"),
    ("Database (as the driver names it)", "SQL_DBMS_NAME"),
    ("Database version (the package's, where the driver shows it)", "SQL_DBMS_VER"),
    ("Identifier quote character", "SQL_IDENTIFIER_QUOTE_CHAR"),
)


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    subject: str  # e.g. "INVOICE.CARR_NET" or "Halo Client list"
    message: str  # what was found
    consequence: str = ""  # what LedgerBridge does because of it
    action: str = ""  # what the user can do


@dataclass(slots=True)
class TableReport:
    table: str
    found: bool
    missing_columns: list[str] = field(default_factory=list)
    rows: int | None = None
    types: dict[str, str] = field(default_factory=dict)  # column -> declared type, for converted columns


@dataclass(slots=True)
class HaloReport:
    resource: str
    answers: bool
    rows_seen: int = 0
    fields_present: list[str] = field(default_factory=list)
    fields_missing: list[str] = field(default_factory=list)
    error: str = ""


@dataclass(slots=True)
class DoctorReport:
    package: str = ""
    driver: dict[str, str] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)
    tables: list[TableReport] = field(default_factory=list)
    halo: list[HaloReport] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(finding.severity == "problem" for finding in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}

    def to_text(self) -> str:
        """The report as a person reads it (the CLI prints this; the GUI shows it)."""
        lines = [f"LedgerBridge doctor: {self.package or 'no accounting package chosen'}", ""]
        if self.driver:
            lines.append("ODBC driver")
            lines += [f"  {label}: {value}" for label, value in self.driver.items()]
            lines.append("")
        if self.tables:
            lines.append("Tables read")
            for table in self.tables:
                if not table.found:
                    lines.append(f"  {table.table}: MISSING")
                    continue
                count = f", {table.rows} rows" if table.rows is not None else ""
                missing = f", missing: {', '.join(table.missing_columns)}" if table.missing_columns else ""
                lines.append(f"  {table.table}: found{count}{missing}")
                if table.types:
                    shown = ", ".join(f"{column} {kind}" for column, kind in table.types.items())
                    lines.append(f"    types: {shown}")
            lines.append("")
        if self.facts:
            lines.append("About the books")
            lines += [f"  {label}: {value}" for label, value in self.facts.items()]
            lines.append("")
        if self.halo:
            lines.append("Halo")
            for probe in self.halo:
                if not probe.answers:
                    lines.append(f"  {probe.resource}: no answer ({probe.error})")
                    continue
                fields_text = ", ".join(probe.fields_present) or "none of the match fields"
                lines.append(
                    f"  {probe.resource}: answers, {probe.rows_seen} row(s) looked at; carries {fields_text}"
                )
            lines.append("")
        lines.append("Findings")
        for finding in self.findings:
            lines.append(f"  [{finding.severity.upper()}] {finding.subject}: {finding.message}")
            if finding.consequence:
                lines.append(f"      What LedgerBridge does: {finding.consequence}")
            if finding.action:
                lines.append(f"      What you can do: {finding.action}")
        verdict = "No problems found." if self.ok else "Problems found: see above."
        return "\n".join([*lines, "", verdict])


# --- the accounting package ------------------------------------------------------------------------------


def _getinfo(connection: Any) -> dict[str, str]:
    getinfo = getattr(connection, "getinfo", None)
    if getinfo is None:
        return {"Driver": f"{type(connection).__module__} (no ODBC driver: the built-in demo company)"}
    try:
        import pyodbc
    except ImportError:  # pragma: no cover - pyodbc is a dependency
        return {}
    found: dict[str, str] = {}
    for label, name in _GETINFO:
        code = getattr(pyodbc, name, None)
        if code is None:
            continue
        try:
            found[label] = str(getinfo(code))
        except Exception as exc:  # a driver that cannot answer one question still answers the others
            found[label] = f"(not reported: {type(exc).__name__})"
    return found


@contextlib.contextmanager
def _cursor(connection: Any) -> Iterator[Any]:
    cursor = connection.cursor()
    try:
        yield cursor
    finally:
        with contextlib.suppress(Exception):
            cursor.close()


def _described(connection: Any, sql: str) -> list[tuple[Any, ...]]:
    """Run ``sql`` (a WHERE 1 = 0 probe) and return the driver's description of its columns."""
    with _cursor(connection) as cursor:
        cursor.execute(sql)
        description = list(cursor.description or ())
        with contextlib.suppress(Exception):
            cursor.fetchall()
        return description


def _type_name(column: tuple[Any, ...]) -> str:
    type_code = column[1] if len(column) > 1 else None
    if type_code is None:
        return "not declared by the driver"
    name = getattr(type_code, "__name__", None) or str(type_code)
    size = column[3] if len(column) > 3 else None
    precision, scale = (column[4], column[5]) if len(column) > 5 else (None, None)
    if precision and scale is not None and name == "Decimal":
        return f"{name}({precision},{scale})"
    if size and name in ("str", "bytes"):
        return f"{name}({size})"
    return name


def probe_table(connector: Connector, use: TableUse) -> tuple[TableReport, list[Finding]]:
    """Probe one table: its columns (all at once, then SELECT * to name the missing ones), types, rows."""
    connection = connector.connection()
    name = connector.identifier
    report = TableReport(table=use.table, found=True)
    findings: list[Finding] = []
    table_sql = name(use.table)
    columns_sql = ", ".join(name(column) for column in use.columns)
    described: dict[str, tuple[Any, ...]] = {}
    query_error: Exception | None = None
    try:
        for description in _described(connection, f"SELECT {columns_sql} FROM {table_sql} WHERE 1 = 0"):
            described[str(description[0]).upper()] = description
    except Exception as exc:
        query_error = exc
    # The table's own column list as well: some engines (SQLite) read a quoted name that does not exist as
    # a text literal, so a query that runs does not prove every column is there.
    try:
        present = {
            str(column[0]).upper()
            for column in _described(connection, f"SELECT * FROM {table_sql} WHERE 1 = 0")
        }
    except Exception as exc:
        if query_error is None:
            present = {column.upper() for column in use.columns}
        else:
            report.found = False
            findings.append(_missing(use, use.table, error_from_odbc(exc, package=connector.kind).detail))
            return report, findings
    report.missing_columns = [column for column in use.columns if column.upper() not in present]
    for column in report.missing_columns:
        findings.append(_missing(use, f"{use.table}.{column}", ""))
    if query_error is not None and not report.missing_columns:
        findings.append(
            Finding(
                "problem",
                use.table,
                "every column exists, but the query LedgerBridge sends fails: "
                + error_from_odbc(query_error, package=connector.kind).detail,
                use.without,
                "Send this report to LedgerBridge support: the driver's SQL dialect differs from ours.",
            )
        )
    for column in (*use.money, *use.dates):
        found = described.get(column.upper())
        if found is None:
            continue
        kind = _type_name(found)
        report.types[column] = kind
        if column in use.money and kind.startswith("int"):
            findings.append(
                Finding(
                    "warning",
                    f"{use.table}.{column}",
                    f"the driver declares this money column as {kind}",
                    "amounts with pence/cents could be cut to whole numbers by the driver",
                    "Send this report to LedgerBridge support.",
                )
            )
    if use.count:
        try:
            report.rows = int(
                connector.scalar(f"SELECT COUNT(*) FROM {table_sql}", f"counting {use.table}") or 0
            )
        except (LedgerBridgeError, TypeError, ValueError) as exc:
            findings.append(Finding("warning", use.table, f"its rows could not be counted ({exc})"))
    return report, findings


def _missing(use: TableUse, subject: str, detail: str) -> Finding:
    what = "table" if "." not in subject else "column"
    return Finding(
        "warning" if use.optional else "problem",
        subject,
        f"this {what} is missing" + (f" ({detail})" if detail else ""),
        use.without,
        "Check that the connection points at the right company and that the package is a supported version; "
        "send this report to LedgerBridge support so the connector can learn this layout.",
    )


def probe_source(connector: Connector, report: DoctorReport) -> None:
    """Fill ``report`` with what the accounting package shows through its driver."""
    report.package = connector.display_name
    try:
        connection = connector.connection()
    except LedgerBridgeError as exc:
        report.findings.append(
            Finding("problem", "Connection", exc.message, "nothing can be read", exc.action)
        )
        return
    report.driver = _getinfo(connection)
    uses = connector.tables()
    if not uses:
        check = connector.test_connection()
        report.findings.append(
            Finding(
                "ok" if check.ok else "problem",
                "Your queries",
                check.message + (f" ({check.detail})" if check.detail else ""),
                "" if check.ok else "the streams whose query fails cannot be read",
                check.action,
            )
        )
        return
    for use in uses:
        table, findings = probe_table(connector, use)
        report.tables.append(table)
        report.findings.extend(findings)
    try:
        report.facts.update(connector.package_facts())
    except LedgerBridgeError as exc:
        report.facts["Facts"] = f"could not be read ({exc.message})"
    if not any(finding.severity in ("problem", "warning") for finding in report.findings):
        report.findings.append(
            Finding("ok", connector.display_name, f"all {len(uses)} tables and their columns are there")
        )


# --- Halo --------------------------------------------------------------------------------------------------


def probe_halo(client: Any, report: DoctorReport, *, rows: int = 5) -> None:
    """Which Halo lists answer, and which match fields their rows carry (HaloClient's public methods only)."""
    try:
        client.sign_in()
    except LedgerBridgeError as exc:
        report.findings.append(
            Finding("problem", "Halo sign-in", exc.message, "nothing can be sent", exc.action)
        )
        return
    for resource, wanted in HALO_MATCH_FIELDS.items():
        probe = HaloReport(resource=resource, answers=True)
        seen: set[str] = set()
        try:
            for index, record in enumerate(client.iter_records(resource, page_size=rows)):
                probe.rows_seen += 1
                seen.update(key for key in record if key in wanted)
                if index + 1 >= rows:
                    break
        except LedgerBridgeError as exc:
            probe.answers, probe.error = False, exc.message
            report.findings.append(
                Finding(
                    "problem",
                    f"Halo {resource} list",
                    exc.message,
                    "that entity cannot be synced",
                    exc.action,
                )
            )
            report.halo.append(probe)
            continue
        probe.fields_present = [name for name in wanted if name in seen]
        probe.fields_missing = [name for name in wanted if name not in seen]
        if probe.rows_seen == 0:
            report.findings.append(
                Finding(
                    "info",
                    f"Halo {resource} list",
                    "answers but shows no records, so its fields cannot be checked",
                    "",
                    "If Halo has such records, give the API application's agent visibility of them "
                    "(an empty list usually means missing permissions, not an empty Halo).",
                )
            )
        for name in probe.fields_missing if probe.rows_seen else ():
            report.findings.append(
                Finding(
                    "warning",
                    f"Halo {resource}.{name}",
                    "Halo's list rows do not carry this field",
                    wanted[name],
                    "Send this report to LedgerBridge support (the field may need a permission or a Halo "
                    "update to appear in lists).",
                )
            )
        report.halo.append(probe)


def run_doctor(
    connector_factory: Callable[[], Connector] | None,
    client_factory: Callable[[], Any] | None,
) -> DoctorReport:
    """Probe the books and Halo; each side is skipped (with a finding) when it cannot even be set up."""
    report = DoctorReport()
    for side, factory, probe in (
        ("Accounting package", connector_factory, _probe_books),
        ("Halo", client_factory, _probe_halo_side),
    ):
        if factory is None:
            report.findings.append(Finding("info", side, "not set up yet, so not checked"))
            continue
        try:
            probe(factory, report)
        except LedgerBridgeError as exc:
            report.findings.append(Finding("problem", side, exc.message, "", exc.action))
    return report


def _probe_books(factory: Callable[[], Connector], report: DoctorReport) -> None:
    connector = factory()
    try:
        probe_source(connector, report)
    finally:
        connector.close()


def _probe_halo_side(factory: Callable[[], Any], report: DoctorReport) -> None:
    client = factory()
    try:
        probe_halo(client, report)
    finally:
        client.close()


def doctor_for_settings(settings: Any, secrets: Any) -> DoctorReport:
    """The doctor on the saved settings and keyring secrets (the CLI and the GUI buttons)."""
    from sync.halo_connection import build_client
    from sync.runner import build_connector

    source = (lambda: build_connector(settings, secrets)) if settings.source.kind else None
    halo = (lambda: build_client(settings, secrets)) if settings.halo.resource_server else None
    return run_doctor(source, halo)
