"""A stand-in for Sage Data Objects' COM object model, loaded by the REAL helper process in the tests.

Why a fake: SDO is a Windows COM server (32-bit, in-process) and cannot run on Linux; everything around it
(the helper process, its JSON pipe, the 64-bit side, the error mapping) is real in the tests. The company
lives in ``<data path>/fake_company.json`` so that it outlives a killed helper, as a real company does.

What it reproduces, and where each behaviour is described publicly (docs/writing-sage.md, "Evidence"):
- ``SDOEngine.<version>`` ProgIDs ("SDOEngine.32": Dankular/Sage50Accounts README); an unregistered one
  fails as Windows does (CO_E_CLASSSTRING). Registered ones come from FAKE_SDO_REGISTERED.
- ``Workspaces.Add(name)``, ``Connect(path, user, password, unique)`` raising with Sage's text on a refusal:
  "Username is already in use" / busy (Dankular README, Troubleshooting), a wrong password, third-party
  integration not enabled (fidelity-notes.md; the wording of the last two is ours, Sage's is not public).
- ``CreateObject("InvoicePost" | "InvoiceRecord" | "SalesRecord" | "StockRecord")``; ``Header.Item(name)``
  and ``Fields.Item(name)`` with ``Value`` and the published field lengths (Zynk's INVOICE / SALES_LEDGER /
  STOCK column pages; a value too long is refused); ``Items.Add()``; ``GetNextNumber()``; ``Update()``
  answering True, or False with the reason in ``LastError.ErrorDescription`` (Dankular's TryShowLastError;
  a public WooCommerce-to-Sage service's InvoicePost/SopPost code).
- Record navigation ``MoveFirst`` / ``MoveNext`` / ``IsEOF`` (Dankular: "Use IsEOF() method") and
  ``Find(False)`` after setting the key field (the WooCommerce-to-Sage code), ``AddNew`` + ``Update``.
- A line's ``TAX_CODE`` is a number (T1 -> 1: Dankular README, "SopPost Item Fields").
Faults a test can switch on in the company file: ``crash_after_update`` (the helper process dies right after
the company saved the document), ``crash_before_update``, ``hang_in_update`` (seconds), ``crash_on_read``
(the helper dies while walking records), ``locked_on_read`` (walking records raises a lock error),
``header_lacks`` (field names an older SDO's InvoicePost header would not have), ``update_answers_nothing``
(Update saves but returns no bool).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

COMPANY_FILE = "fake_company.json"
CO_E_CLASSSTRING = -2147221005

# Field -> max length for text fields (None: a number or a date). From the published layouts.
INVOICE_HEADER = {
    "INVOICE_NUMBER": None,
    "INVOICE_TYPE_CODE": None,
    "ACCOUNT_REF": 8,
    "INVOICE_DATE": None,
    "PAYMENT_DUE_DATE": None,
    "NOTES_1": 60,
    "NOTES_2": 60,
    "NOTES_3": 60,
    "ORDER_NUMBER": 7,
    "CUST_ORDER_NUMBER": 60,
    "NAME": 60,
}
INVOICE_ITEM = {
    "STOCK_CODE": 30,
    "DESCRIPTION": 60,
    "QTY_ORDER": None,
    "UNIT_PRICE": None,
    "NET_AMOUNT": None,
    "FULL_NET_AMOUNT": None,
    "TAX_AMOUNT": None,
    "TAX_CODE": None,
    "NOMINAL_CODE": 8,
}
SALES_RECORD = {
    "ACCOUNT_REF": 8,
    "NAME": 60,
    **{f"ADDRESS_{n}": 60 for n in range(1, 6)},
    "CONTACT_NAME": 30,
    "TELEPHONE": 30,
    "E_MAIL": 255,
    "VAT_REG_NUMBER": 20,
    "WEB_ADDRESS": 255,
}
STOCK_RECORD = {
    "STOCK_CODE": 30,
    "DESCRIPTION": 60,
    "SALES_PRICE": None,
    "NOMINAL_CODE": 8,
    "TAX_CODE": None,
}
SPECIAL_PRODUCT_CODES = {"S1", "S2", "S3", "M"}


class FakeComError(Exception):
    """What pywin32 raises for a failing COM call: (hresult, text, excepinfo, argerror)."""

    def __init__(self, text: str, hresult: int = -2147352567) -> None:
        super().__init__(hresult, text, (0, "SDO", text, None, 0, hresult), None)
        self.excepinfo = (0, "SDO", text, None, 0, hresult)


def make_engine(progid: str) -> Engine:
    """The factory the helper is given (``--factory fake_sdo:make_engine``)."""
    registered = os.environ.get("FAKE_SDO_REGISTERED", "SDOEngine.32").split(",")
    if progid not in registered:
        from sdo_helper.protocol import HelperError  # the helper's own, as com.dispatch raises it
        from sdo_helper.sdo import NOT_REGISTERED

        raise HelperError("config", f"{progid} is not registered", detail=f"{NOT_REGISTERED} {progid}")
    return Engine()


class Company:
    def __init__(self, folder: str) -> None:
        self.path = Path(folder) / COMPANY_FILE
        if not self.path.is_file():
            raise FakeComError(f"Invalid data path {folder}: the company data was not found")

    def load(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return data

    def save(self, data: dict[str, Any]) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
        os.replace(temporary, self.path)


class LastError:
    def __init__(self) -> None:
        self.ErrorNumber = 0
        self.ErrorDescription = ""


class Engine:
    def __init__(self) -> None:
        self.Workspaces = Workspaces()


class Workspaces:
    def Add(self, name: str) -> Workspace:
        return Workspace(name)


class Workspace:
    def __init__(self, name: str) -> None:
        self.name = name
        self.LastError = LastError()
        self.company: Company | None = None

    def Connect(self, path: str, user: str, password: str, unique: str) -> bool:
        company = Company(path)
        data = company.load()
        if data.get("busy"):
            raise FakeComError("Username is already in use")
        if not data.get("third_party_integration", True):
            raise FakeComError("Third party integration is not enabled for this company")
        if data.get("users", {}).get(user) != password:
            raise FakeComError("Invalid user name or password")
        self.company = company
        return True

    def Disconnect(self) -> None:
        self.company = None

    def CreateObject(self, name: str) -> Any:
        if self.company is None:
            raise FakeComError("Not connected")
        kinds = {
            "InvoicePost": InvoicePost,
            "InvoiceRecord": InvoiceRecord,
            "SalesRecord": SalesRecord,
            "StockRecord": StockRecord,
        }
        if name not in kinds:
            raise FakeComError(f"Unknown object {name}")
        return kinds[name](self)

    def refuse(self, number: int, text: str) -> bool:
        self.LastError.ErrorNumber = number
        self.LastError.ErrorDescription = text
        return False


class Field:
    def __init__(self, name: str, length: int | None, value: Any = None) -> None:
        self.name = name
        self.length = length
        self._value = value

    @property
    def Value(self) -> Any:
        return self._value

    @Value.setter
    def Value(self, value: Any) -> None:
        if self.length is not None:
            if not isinstance(value, str):
                raise FakeComError(f"Type mismatch for {self.name}")
            if len(value) > self.length:
                raise FakeComError(f"{self.name} is longer than {self.length} characters")
        self._value = value


class Fields:
    def __init__(self, layout: dict[str, int | None], values: dict[str, Any] | None = None) -> None:
        values = values or {}
        self._fields = {name: Field(name, length, values.get(name)) for name, length in layout.items()}

    def Item(self, name: str) -> Field:
        if name not in self._fields:
            raise FakeComError(f"Field {name} not found")
        return self._fields[name]

    def values(self) -> dict[str, Any]:
        return {name: field.Value for name, field in self._fields.items() if field.Value is not None}


class Items:
    def __init__(self) -> None:
        self.lines: list[Fields] = []

    def Add(self) -> InvoiceItem:
        item = InvoiceItem()
        self.lines.append(item.Fields)
        return item


class InvoiceItem:
    def __init__(self) -> None:
        self.Fields = Fields(INVOICE_ITEM)


class InvoicePost:
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        assert workspace.company is not None
        lacking = workspace.company.load().get("faults", {}).get("header_lacks", [])
        self.Header = Fields({name: length for name, length in INVOICE_HEADER.items() if name not in lacking})
        self.Items = Items()

    def GetNextNumber(self) -> int:
        assert self.workspace.company is not None
        data = self.workspace.company.load()
        used = [invoice["INVOICE_NUMBER"] for invoice in data["invoices"]]
        return max([data.get("next_invoice_number", 1) - 1, *used], default=0) + 1

    def Update(self) -> bool:
        company = self.workspace.company
        assert company is not None
        data = company.load()
        faults = data.get("faults", {})
        if faults.get("hang_in_update"):
            time.sleep(float(faults["hang_in_update"]))
        if faults.get("crash_before_update"):
            os._exit(3)
        header = self.Header.values()
        customers = {customer["ACCOUNT_REF"] for customer in data["customers"]}
        if header.get("ACCOUNT_REF") not in customers:
            return self.workspace.refuse(1, f"Account reference {header.get('ACCOUNT_REF')} does not exist")
        if not self.Items.lines:
            return self.workspace.refuse(2, "An invoice must have at least one item")
        stock = {item["STOCK_CODE"] for item in data["stock"]} | SPECIAL_PRODUCT_CODES
        lines = [line.values() for line in self.Items.lines]
        for line in lines:
            if line.get("STOCK_CODE") not in stock:
                return self.workspace.refuse(3, f"Product code {line.get('STOCK_CODE')} does not exist")
            if not isinstance(line.get("TAX_CODE", 0), int) or not 0 <= line.get("TAX_CODE", 0) <= 99:
                return self.workspace.refuse(4, "Invalid tax code")
        number = header.get("INVOICE_NUMBER")
        if not isinstance(number, int) or number <= 0:
            return self.workspace.refuse(5, "Invalid invoice number")
        if any(invoice["INVOICE_NUMBER"] == number for invoice in data["invoices"]):
            return self.workspace.refuse(6, f"Invoice number {number} already exists")
        data["invoices"].append({**header, "items": lines})
        data["next_invoice_number"] = max(data.get("next_invoice_number", 1), number + 1)
        company.save(data)
        if faults.get("crash_after_update"):
            os._exit(3)
        if faults.get("update_answers_nothing"):
            return None  # type: ignore[return-value]
        return True


class _Record:
    """A record object: the current record's Fields, navigation, Find by the key field, AddNew/Update."""

    table = ""
    key = ""
    layout: dict[str, int | None] = {}

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.Fields = Fields(self.layout)
        self._position = 0
        self._adding = False

    def _rows(self) -> list[dict[str, Any]]:
        assert self.workspace.company is not None
        rows: list[dict[str, Any]] = self.workspace.company.load()[self.table]
        return rows

    def _show(self, rows: list[dict[str, Any]]) -> None:
        self.Fields = Fields(self.layout, rows[self._position] if self._position < len(rows) else {})

    def MoveFirst(self) -> bool:
        assert self.workspace.company is not None
        faults = self.workspace.company.load().get("faults", {})
        if faults.get("crash_on_read"):
            os._exit(3)
        if faults.get("locked_on_read"):
            raise FakeComError("The file is locked by another user")
        self._position = 0
        rows = self._rows()
        self._show(rows)
        return bool(rows)

    def MoveNext(self) -> bool:
        self._position += 1
        rows = self._rows()
        self._show(rows)
        return self._position < len(rows)

    def IsEOF(self) -> bool:
        return self._position >= len(self._rows())

    def Find(self, partial: bool) -> bool:
        wanted = self.Fields.Item(self.key).Value
        for position, row in enumerate(self._rows()):
            if row.get(self.key) == wanted:
                self._position = position
                self._show(self._rows())
                return True
        return False

    def AddNew(self) -> bool:
        self.Fields = Fields(self.layout)
        self._adding = True
        return True

    def Update(self) -> bool:
        if not self._adding:
            return self.workspace.refuse(10, "Not adding a record")
        company = self.workspace.company
        assert company is not None
        data = company.load()
        values = self.Fields.values()
        if not values.get(self.key):
            return self.workspace.refuse(11, f"{self.key} is required")
        if any(row.get(self.key) == values[self.key] for row in data[self.table]):
            return self.workspace.refuse(12, f"{values[self.key]} already exists")
        data[self.table].append(values)
        company.save(data)
        self._adding = False
        return True


class InvoiceRecord(_Record):
    table = "invoices"
    key = "INVOICE_NUMBER"
    layout = INVOICE_HEADER


class SalesRecord(_Record):
    table = "customers"
    key = "ACCOUNT_REF"
    layout = SALES_RECORD


class StockRecord(_Record):
    table = "stock"
    key = "STOCK_CODE"
    layout = STOCK_RECORD


def new_company(folder: Path, **changes: Any) -> Path:
    """A fake company in ``folder`` with one user (manager / s3cret-pass) and one customer and product."""
    data: dict[str, Any] = {
        "users": {"manager": "s3cret-pass"},
        "third_party_integration": True,
        "busy": False,
        "customers": [{"ACCOUNT_REF": "ACME01", "NAME": "Acme Widgets Ltd"}],
        "stock": [{"STOCK_CODE": "LABOUR", "DESCRIPTION": "Labour per hour"}],
        "invoices": [],
        "next_invoice_number": 1001,
        "faults": {},
        **changes,
    }
    (folder / COMPANY_FILE).write_text(json.dumps(data, indent=1), encoding="utf-8")
    return folder


def read_company(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / COMPANY_FILE).read_text(encoding="utf-8"))
    return data


def set_faults(folder: Path, **faults: Any) -> None:
    data = read_company(folder)
    data["faults"] = faults
    (folder / COMPANY_FILE).write_text(json.dumps(data, indent=1), encoding="utf-8")
