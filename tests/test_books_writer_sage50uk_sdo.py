"""Sage 50 UK posting over SDO: the real helper process and its JSON pipe, with SDO's COM objects faked.

Only COM is faked, because it cannot run on Linux: the writer tests start the REAL helper
(``connectors/sdo_helper``) as a subprocess through ``connectors.sage50uk_sdo.Sage50UKSDOWriter``, and the
helper loads ``tests/fake_sdo.py`` instead of ``win32com.client.Dispatch``. The fake's docstring lists the
documented SDO behaviours it reproduces and their public sources (Connect refusing a wrong password, a busy
company or a company without third-party integration; Header/Items fields with Value and published lengths;
Update() answering False with the reason in LastError; MoveFirst/MoveNext/IsEOF and Find; GetNextNumber).
The company is a JSON file in the data folder, so it survives a helper killed half-way, as Sage's does.
The last tests call the helper's COM binding (``sdo_helper/com.py``) in-process with pywin32's modules
faked (pywin32 cannot be installed on Linux), to check how it reads Windows' HRESULTs.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.sage50uk_sdo import Sage50UKSDOWriter, SdoConfig, sdo_config
from connectors.sdo_helper import com
from connectors.sdo_helper.protocol import HelperError
from connectors.sdo_helper.sdo import SdoSession, account_ref_candidates, marker_of, stock_code_for
from core.books import BooksDocument, BooksLine, PostedDocument
from core.errors import AuthError, ConfigError, RecordError, TransientError
from core.records import Address, Customer, Item
from tests.fake_sdo import new_company, read_company, set_faults

TESTS = Path(__file__).resolve().parent
PASSWORD = "s3cret-pass"


@pytest.fixture
def company(tmp_path: Path) -> Path:
    folder = tmp_path / "ACCDATA"
    folder.mkdir()
    return new_company(folder)


def config(company: Path, **changes: object) -> SdoConfig:
    values: dict[str, object] = {
        "data_path": str(company),
        "username": "manager",
        "password": PASSWORD,
        "progid": "SDOEngine.32",
        "python": sys.executable,
        "timeout_seconds": 20.0,
        "factory": "fake_sdo:make_engine",
        "factory_path": str(TESTS),
    }
    values.update(changes)
    return SdoConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def writer(company: Path):
    with Sage50UKSDOWriter(config(company)) as opened:
        yield opened


def invoice(
    halo_id: int = 501, *, customer: str = "ACME01", number: str = "", credit: bool = False
) -> BooksDocument:
    sign = Decimal(-1) if credit else Decimal(1)
    lines = (
        BooksLine(
            "Engineer on site",
            Decimal(3),
            Decimal("65.00"),
            Decimal("195.00") * sign,
            Decimal("39.00") * sign,
            item_key="LABOUR",
            tax_code="T1",
            account="4000",
        ),
        BooksLine(
            "Cable, 20 m",
            Decimal(1) * sign,
            Decimal("12.50"),
            Decimal("12.50") * sign,
            Decimal("2.50") * sign,
            tax_code="T1",
        ),
    )
    return BooksDocument(
        reference=f"HALO-C{halo_id}" if credit else f"HALO-{halo_id}",
        halo_id=halo_id,
        number=number,
        customer_key=customer,
        date=datetime(2026, 11, 30, 9, 30, tzinfo=UTC),
        lines=lines,
        net=Decimal("207.50") * sign,
        tax=Decimal("41.50") * sign,
        gross=Decimal("249.00") * sign,
        is_credit=credit,
        customer_reference="PO-7781",
        memo="November call-out",
    )


def test_an_invoice_with_lines_lands_once_with_its_marker(writer, company):
    posted = writer.post(invoice())

    assert posted == PostedDocument("HALO-501", "1001", "1001")
    [stored] = read_company(company)["invoices"]
    assert stored["NOTES_1"] == "HALO-501"
    assert stored["INVOICE_TYPE_CODE"] == 0  # product invoice
    assert stored["ACCOUNT_REF"] == "ACME01" and stored["CUST_ORDER_NUMBER"] == "PO-7781"
    assert stored["INVOICE_DATE"].startswith("2026-11-30")
    labour, cable = stored["items"]
    assert labour["STOCK_CODE"] == "LABOUR" and labour["NOMINAL_CODE"] == "4000" and labour["TAX_CODE"] == 1
    assert (labour["QTY_ORDER"], labour["UNIT_PRICE"], labour["NET_AMOUNT"], labour["TAX_AMOUNT"]) == (
        3.0,
        65.0,
        195.0,
        39.0,
    )
    assert cable["STOCK_CODE"] == "S1" and "NOMINAL_CODE" not in cable  # a line that is not a product
    assert writer.find_posted(["HALO-501", "HALO-502"]) == {"HALO-501": posted}


def test_halo_numbers_are_kept_and_a_number_sage_already_has_is_refused(writer, company):
    assert writer.post(invoice(501, number="5001")).books_number == "5001"

    with pytest.raises(RecordError, match="already has invoice number 5001"):
        writer.post(invoice(502, number="5001"))
    with pytest.raises(RecordError, match="not a whole number"):
        writer.post(invoice(503, number="INV-503"))
    assert [stored["NOTES_1"] for stored in read_company(company)["invoices"]] == ["HALO-501"]


def test_a_post_whose_helper_died_after_update_is_found_and_not_posted_again(company):
    set_faults(company, crash_after_update=True)
    with Sage50UKSDOWriter(config(company)) as writer, pytest.raises(TransientError) as stopped:
        writer.post(invoice())
    assert stopped.value.maybe_written is True

    set_faults(company)
    with Sage50UKSDOWriter(config(company)) as writer:  # the next run
        assert writer.find_posted(["HALO-501"]) == {"HALO-501": PostedDocument("HALO-501", "1001", "1001")}
    assert len(read_company(company)["invoices"]) == 1


def test_an_update_that_answers_nothing_is_a_maybe_written_and_is_then_found(writer, company):
    set_faults(company, update_answers_nothing=True)
    with pytest.raises(TransientError, match="no answer") as unknown:
        writer.post(invoice())
    assert unknown.value.maybe_written is True
    assert writer.find_posted(["HALO-501"])["HALO-501"].books_number == "1001"


def test_a_post_whose_helper_died_before_update_is_not_found_so_it_can_be_posted(company):
    set_faults(company, crash_before_update=True)
    with Sage50UKSDOWriter(config(company)) as writer:
        with pytest.raises(TransientError) as stopped:
            writer.post(invoice())
        assert stopped.value.maybe_written is True
        set_faults(company)
        assert writer.find_posted(["HALO-501"]) == {}  # the same writer starts a new helper
        assert writer.post(invoice()).books_number == "1001"
    assert len(read_company(company)["invoices"]) == 1


def test_a_helper_that_does_not_answer_in_time_is_stopped(company):
    set_faults(company, hang_in_update=30)
    with Sage50UKSDOWriter(config(company, timeout_seconds=2.0)) as writer:
        with pytest.raises(TransientError, match="did not answer within 2 s") as stopped:
            writer.post(invoice())
        assert stopped.value.maybe_written is True
        assert writer._process is None  # killed, not left running


def test_a_helper_that_dies_during_a_read_is_transient_and_nothing_can_have_been_written(company):
    set_faults(company, crash_on_read=True)
    with (
        Sage50UKSDOWriter(config(company)) as writer,
        pytest.raises(TransientError, match="stopped during find_posted") as died,
    ):
        writer.find_posted(["HALO-1"])
    assert died.value.maybe_written is False


def test_a_company_locked_during_a_read_is_transient(company):
    set_faults(company, locked_on_read=True)
    with (
        Sage50UKSDOWriter(config(company)) as writer,
        pytest.raises(TransientError, match="locked") as locked,
    ):
        writer.find_posted(["HALO-1"])
    assert locked.value.maybe_written is False


def test_a_header_field_this_sdo_lacks_is_left_out_but_the_marker_never_is(company):
    dated = BooksDocument(**{**_fields(invoice()), "due_date": datetime(2026, 12, 30, tzinfo=UTC)})
    set_faults(company, header_lacks=["PAYMENT_DUE_DATE"])
    with Sage50UKSDOWriter(config(company)) as writer:
        assert writer.post(dated).books_number == "1001"
        assert "SDO has no field PAYMENT_DUE_DATE" in writer._stderr_text()
    assert "PAYMENT_DUE_DATE" not in read_company(company)["invoices"][0]

    set_faults(company, header_lacks=["NOTES_1"])
    with Sage50UKSDOWriter(config(company)) as writer, pytest.raises(ConfigError, match="NOTES_1"):
        writer.post(invoice(502))
    assert len(read_company(company)["invoices"]) == 1


def test_a_helper_that_died_between_requests_is_started_again(writer, company):
    writer.post(invoice())
    writer._process.kill()
    writer._process.wait()

    assert writer.find_posted(["HALO-501"])["HALO-501"].books_number == "1001"  # started again


def test_a_credit_note_is_a_product_credit_with_positive_amounts(writer, company):
    posted = writer.post(invoice(77, credit=True))

    assert posted.reference == "HALO-C77"
    [stored] = read_company(company)["invoices"]
    assert stored["INVOICE_TYPE_CODE"] == 3 and stored["NOTES_1"] == "HALO-C77"
    assert [line["NET_AMOUNT"] for line in stored["items"]] == [195.0, 12.5]
    assert [line["QTY_ORDER"] for line in stored["items"]] == [3.0, 1.0]
    assert writer.find_posted(["HALO-C77", "HALO-77"]) == {"HALO-C77": posted}


def test_an_unknown_customer_is_refused_with_sages_reason_until_it_is_created(writer, company):
    with pytest.raises(RecordError, match="Account reference NOPETR01 does not exist"):
        writer.post(invoice(customer="NOPETR01"))
    assert writer.has_customer("NOPETR01") is False

    created = writer.create_customer(
        Customer(
            key="", name="Nope Traders", email="a@nope.example", address=Address(("1 High St",), "Leeds")
        )
    )

    assert created == "NOPETR01"
    assert writer.has_customer("NOPETR01") is True
    assert writer.post(invoice(customer=created)).books_number == "1001"
    stored = next(row for row in read_company(company)["customers"] if row["ACCOUNT_REF"] == "NOPETR01")
    assert stored["NAME"] == "Nope Traders" and stored["ADDRESS_2"] == "Leeds"


def test_a_derived_account_ref_skips_another_customers_and_is_the_same_when_asked_again(writer, company):
    writer.create_customer(Customer(key="ACMEWI01", name="Acme Windows"))

    first = writer.create_customer(Customer(key="", name="Acme Widgets Ltd"))
    again = writer.create_customer(Customer(key="", name="ACME  widgets ltd"))  # a run after a crash

    assert first == again == "ACMEWI02"
    assert [row["ACCOUNT_REF"] for row in read_company(company)["customers"]] == [
        "ACME01",
        "ACMEWI01",
        "ACMEWI02",
    ]
    with pytest.raises(RecordError, match="already belongs to 'Acme Windows'"):
        writer.create_customer(Customer(key="ACMEWI01", name="Someone Else"))


def test_items_are_found_and_created_by_stock_code(writer, company):
    assert writer.has_item("LABOUR") is True
    assert writer.has_item("SUPPORT-HR") is False

    code = writer.create_item(
        Item(
            key="",
            code="support hr",
            name="Support hour",
            price=Decimal("80.00"),
            tax_code="T1",
            nominal_code="4010",
        )
    )

    assert code == "SUPPORT-HR"
    assert writer.has_item(code) is True
    assert writer.create_item(Item(key="", code="SUPPORT-HR", name="Support hour")) == code  # already there
    stored = next(row for row in read_company(company)["stock"] if row["STOCK_CODE"] == code)
    assert stored["SALES_PRICE"] == 80.0 and stored["TAX_CODE"] == 1


def test_a_wrong_password_is_an_auth_error_that_never_shows_the_password(company):
    with (
        Sage50UKSDOWriter(config(company, password="not-the-one")) as writer,
        pytest.raises(AuthError, match="did not accept the user name or password") as refused,
    ):
        writer.find_posted(["HALO-1"])
    assert "not-the-one" not in str(refused.value) + refused.value.detail


def test_the_password_is_not_on_the_helpers_command_line(writer):
    writer.find_posted(["HALO-1"])
    assert PASSWORD not in " ".join(writer._process.args)


def test_a_company_without_third_party_integration_is_a_config_error(tmp_path):
    company = new_company(tmp_path, third_party_integration=False)
    with (
        Sage50UKSDOWriter(config(company)) as writer,
        pytest.raises(ConfigError, match="third party integration"),
    ):
        writer.find_posted(["HALO-1"])


def test_a_company_in_use_is_transient_and_nothing_was_written(tmp_path):
    company = new_company(tmp_path, busy=True)
    with Sage50UKSDOWriter(config(company)) as writer, pytest.raises(TransientError) as busy:
        writer.post(invoice())
    assert "Username is already in use" in str(busy.value)
    assert busy.value.maybe_written is False


def test_a_wrong_data_path_is_a_config_error(tmp_path):
    with (
        Sage50UKSDOWriter(config(tmp_path / "nowhere")) as writer,
        pytest.raises(ConfigError, match="data path"),
    ):
        writer.find_posted(["HALO-1"])


def test_the_sdo_version_is_found_when_not_set_and_a_missing_one_is_a_config_error(company, monkeypatch):
    with Sage50UKSDOWriter(config(company, progid="")) as writer:
        writer.find_posted(["HALO-1"])
        assert writer.progid == "SDOEngine.32"

    with (
        Sage50UKSDOWriter(config(company, progid="SDOEngine.29")) as writer,
        pytest.raises(ConfigError, match=r"SDOEngine\.29 is not registered"),
    ):
        writer.find_posted(["HALO-1"])

    monkeypatch.setenv("FAKE_SDO_REGISTERED", "")
    with (
        Sage50UKSDOWriter(config(company, progid="")) as writer,
        pytest.raises(ConfigError, match="Sage Data Objects is not installed"),
    ):
        writer.find_posted(["HALO-1"])


@pytest.mark.skipif(sys.platform == "win32", reason="pywin32 may be installed on Windows")
def test_without_pywin32_the_real_com_binding_says_what_to_install(company):
    """No fake here: the helper's real COM binding (sdo_helper.com) runs, and this Python has no pywin32."""
    with (
        Sage50UKSDOWriter(config(company, factory="", factory_path="")) as writer,
        pytest.raises(ConfigError, match="no pywin32") as missing,
    ):
        writer.find_posted(["HALO-1"])
    assert "pip install pywin32" in missing.value.action


def test_a_missing_helper_python_is_a_config_error(company, tmp_path):
    with (
        Sage50UKSDOWriter(config(company, python=str(tmp_path / "python.exe"))) as writer,
        pytest.raises(ConfigError, match="32-bit Python"),
    ):
        writer.find_posted(["HALO-1"])


def test_a_foreign_currency_document_and_an_unmapped_tax_code_are_record_errors(writer, company):
    foreign = invoice()
    with pytest.raises(RecordError, match="EUR"):
        writer.post(BooksDocument(**{**_fields(foreign), "currency": "EUR"}))
    bad_line = BooksLine("x", Decimal(1), Decimal(1), Decimal(1), Decimal(0), tax_code="VAT20")
    with pytest.raises(RecordError, match="not a Sage 50 tax code"):
        writer.post(BooksDocument(**{**_fields(foreign), "lines": (bad_line,)}))
    assert read_company(company)["invoices"] == []


def _fields(document: BooksDocument) -> dict[str, object]:
    return {name: getattr(document, name) for name in BooksDocument.__dataclass_fields__}


def test_derivations_are_plain_functions():
    assert list(account_ref_candidates("A & B"))[:2] == ["ABXXXX01", "ABXXXX02"]
    assert len(list(account_ref_candidates("Acme"))) == 99
    assert stock_code_for("", "Support, per hour") == "SUPPORT-PER-HOUR"
    assert marker_of("  halo-12 paid by card") == "HALO-12"


def test_the_config_comes_from_the_odbc_settings_sage_50_uk_already_has():
    made = sdo_config(r"DSN=SageLine50v29;DIR={\\server\sage;data\ACCDATA};UID=manager", "", PASSWORD)
    assert (made.data_path, made.username, made.progid) == (
        r"\\server\sage;data\ACCDATA",
        "manager",
        "SDOEngine.29",
    )
    assert sdo_config("Driver={Sage Line 50 v31};DIR=C:\\ACCDATA", "lb", PASSWORD).progid == "SDOEngine.31"
    assert (
        sdo_config("DSN=Books;DIR=C:\\ACCDATA", "lb", PASSWORD, progid="SDOEngine.30").progid
        == "SDOEngine.30"
    )
    assert sdo_config("DSN=Books;DIR=C:\\ACCDATA", "lb", PASSWORD).progid == ""  # found by the helper
    assert PASSWORD not in repr(made)
    with pytest.raises(ConfigError, match="DIR="):
        sdo_config("DSN=SageLine50v29", "manager", PASSWORD)


class _ComError(Exception):
    """pywintypes.com_error's shape: (hresult, text, excepinfo, argerror)."""


def _fake_pywin32(monkeypatch, registered: dict[str, int]):
    """pythoncom and win32com.client as modules (pywin32 cannot be installed on Linux): Dispatch answers a
    registered ProgID with an object and any other with the HRESULT Windows gives."""
    import types

    pythoncom = types.ModuleType("pythoncom")
    pythoncom.com_error = _ComError
    pythoncom.CoInitialize = lambda: None
    client = types.ModuleType("win32com.client")

    def dispatch(progid):
        if registered.get(progid, com.CO_E_CLASSSTRING) == 0:
            return types.SimpleNamespace(progid=progid)
        raise _ComError(registered.get(progid, com.CO_E_CLASSSTRING), "Invalid class string", None, None)

    client.Dispatch = dispatch
    package = types.ModuleType("win32com")
    package.client = client
    monkeypatch.setitem(sys.modules, "pythoncom", pythoncom)
    monkeypatch.setitem(sys.modules, "win32com", package)
    monkeypatch.setitem(sys.modules, "win32com.client", client)


def test_the_com_binding_tells_a_missing_version_from_a_wrong_bitness(monkeypatch):
    _fake_pywin32(monkeypatch, {"SDOEngine.31": 0, "SDOEngine.30": com.REGDB_E_CLASSNOTREG})

    assert com.dispatch("SDOEngine.31").progid == "SDOEngine.31"
    with pytest.raises(HelperError, match="not registered on this PC") as missing:
        com.dispatch("SDOEngine.29")
    assert missing.value.kind == "config"
    with pytest.raises(HelperError, match="32-bit component") as bitness:
        com.dispatch("SDOEngine.30")
    assert "32-bit Python" in bitness.value.action


def test_the_automatic_version_search_skips_missing_versions_but_stops_at_a_wrong_bitness(monkeypatch):
    _fake_pywin32(monkeypatch, {"SDOEngine.33": 0})
    assert SdoSession(com.dispatch)._engine_for("")[1] == "SDOEngine.33"

    _fake_pywin32(monkeypatch, {"SDOEngine.33": 0, "SDOEngine.35": com.REGDB_E_CLASSNOTREG})
    with pytest.raises(HelperError, match="32-bit component"):
        SdoSession(com.dispatch)._engine_for("")


def test_posting_opens_it_from_the_reader_settings_and_new_items_sell_to_the_default_nominal(company):
    """What sync.runner.build_writer does for Sage 50 UK: registry -> from_source (DIR=, DSN version)."""
    from connectors.registry import SourceConfig, writer_class

    source = SourceConfig(
        kind="sage50uk",
        connection_string=f"DSN=SageLine50v32;DIR={company}",
        username="manager",
        income_account="4020",
    )
    cls = writer_class("sage50uk")
    assert cls is Sage50UKSDOWriter
    opened = cls.from_source(source, PASSWORD)
    assert isinstance(opened, Sage50UKSDOWriter)
    assert opened._config.data_path == str(company) and opened._config.progid == "SDOEngine.32"
    # The fake COM binding stands in for SDO exactly as in the other tests of this module.
    opened._config = config(company)
    with opened:
        code = opened.create_item(Item(key="", code="ONSITE", name="On-site visit", price=Decimal("95.00")))
    stored = next(row for row in read_company(company)["stock"] if row["STOCK_CODE"] == code)
    assert stored["NOMINAL_CODE"] == "4020"
