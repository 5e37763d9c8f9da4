"""The connector registry: connectors from plain SourceConfig values, the password kept out of every error."""

from __future__ import annotations

import traceback
from zoneinfo import ZoneInfo

import pytest

from connectors.registry import (
    CONNECTORS,
    SourceConfig,
    create_connector,
    odbc_connection_string,
    odbc_data_sources,
    odbc_drivers,
)
from connectors.sage50uk import Sage50UKConnector
from core.errors import ConfigError, LedgerBridgeError
from core.records import Customer
from resources.demo.build_demo_company import ensure_demo_company

SECRET = "S3cr;et}pw{=x"


def test_sage50uk_from_settings_reads_the_standin(sage50uk_company):
    settings = SourceConfig(
        kind="sage50uk",
        connection_string=sage50uk_company.connection_string,
        username="LEDGERBRIDGE",
        timezone="Europe/London",
    )
    with create_connector(settings, SECRET, page_size=3) as connector:
        assert isinstance(connector, Sage50UKConnector) and connector.page_size == 3
        customers = [c for c in connector.read("customers") if isinstance(c, Customer)]
        assert len(customers) == 10
        assert customers[0].modified.tzinfo == ZoneInfo("Europe/London")


def test_connection_string_braces_user_and_password():
    settings = SourceConfig(
        kind="sage50uk", connection_string="DSN=SageLine50v29;DIR=C:\\ACCDATA;", username="A}B"
    )
    built = odbc_connection_string(settings, SECRET)
    assert built == "DSN=SageLine50v29;DIR=C:\\ACCDATA;UID={A}}B};PWD={S3cr;et}}pw{=x}"
    assert odbc_connection_string(SourceConfig(connection_string="DSN=X"), None) == "DSN=X"


def test_password_never_appears_in_errors(tmp_path):
    settings = SourceConfig(
        kind="sage50uk", connection_string=f"Driver={{Sage Line 50 v99}};DIR={tmp_path}", username="MANAGER"
    )
    connector = create_connector(settings, SECRET)
    check = connector.test_connection()
    assert not check.ok and "driver or data source" in check.message
    assert SECRET not in f"{check.message} {check.action} {check.detail}"
    with pytest.raises(LedgerBridgeError) as caught:
        list(connector.read("customers"))
    error = caught.value
    rendered = "".join(traceback.format_exception(error))
    for text in (str(error), repr(error), error.detail, error.action, rendered):
        assert SECRET not in text and "S3cr" not in text
    assert error.__cause__ is None and error.__context__ is None  # the raw driver error is not chained


def test_demo_kind_reads_the_demo_company_with_stdlib_sqlite(tmp_path):
    path = ensure_demo_company(tmp_path / "demo" / "company.sqlite")
    with create_connector(SourceConfig(kind="demo", connection_string=str(path)), None) as connector:
        check = connector.test_connection()
        assert check.ok and "Brightwire IT Services Ltd" in check.detail and "40 customers" in check.detail
        assert len(list(connector.read("items"))) == 25


def test_demo_kind_with_a_missing_file_says_restart_the_demo(tmp_path):
    connector = create_connector(
        SourceConfig(kind="demo", connection_string=str(tmp_path / "gone.sqlite")), None
    )
    check = connector.test_connection()
    assert not check.ok and "missing" in check.message and "--demo" in check.action
    assert not (tmp_path / "gone.sqlite").exists()  # opened read-only: nothing was created


def test_settings_errors_are_config_errors():
    with pytest.raises(ConfigError, match="Unknown accounting package"):
        create_connector(SourceConfig(kind="tally"), None)
    with pytest.raises(ConfigError, match="time zone"):
        create_connector(SourceConfig(kind="sage50uk", connection_string="DSN=X", timezone="Mars/Base"), None)
    with pytest.raises(ConfigError, match="No ODBC connection"):
        create_connector(SourceConfig(kind="sage50uk"), None)


def test_registry_lists_every_kind_and_imports_on_demand():
    assert set(CONNECTORS) == {"sage50uk", "sage50ca", "quickbooks", "odbc", "demo"}
    assert CONNECTORS["sage50uk"] is Sage50UKConnector and CONNECTORS["demo"] is Sage50UKConnector
    assert CONNECTORS["odbc"].kind == "odbc"


def test_odbc_inventory_lists_the_installed_drivers():
    assert "SQLite3" in odbc_drivers()
    assert isinstance(odbc_data_sources(), dict)
