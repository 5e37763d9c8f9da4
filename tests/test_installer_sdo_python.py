"""The build refuses a helper Python that could not load SDO (installer/sdo_python.py).

The executables here are a few bytes with a real PE header (MZ, e_lfanew, "PE\\0\\0", Machine): the check
reads only that header, so a real python.exe is not needed to test it.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from installer.bundle import excluded_from_package
from installer.sdo_python import (
    HELPER_SOURCES,
    MACHINE_AMD64,
    MACHINE_I386,
    SdoPythonError,
    check_sdo_python,
    iscc_defines,
    pe_machine,
)


def pe_file(path: Path, machine: int) -> Path:
    header = bytearray(0x80)
    header[:2] = b"MZ"
    struct.pack_into("<I", header, 0x3C, 0x40)
    header[0x40:0x44] = b"PE\0\0"
    struct.pack_into("<H", header, 0x44, machine)
    path.write_bytes(bytes(header))
    return path


def prepared(folder: Path, machine: int = MACHINE_I386, pywin32: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pe_file(folder / "python.exe", machine)
    if pywin32:
        (folder / "Lib" / "site-packages" / "win32com").mkdir(parents=True)
        (folder / "Lib" / "site-packages" / "win32com" / "__init__.py").write_text("")
    return folder


def test_a_32_bit_python_with_pywin32_is_accepted(tmp_path):
    folder = prepared(tmp_path / "py32")
    assert pe_machine(folder / "python.exe") == MACHINE_I386
    assert check_sdo_python(folder) == folder
    assert iscc_defines(folder) == [f"/DSdoPythonDir={folder}", f"/DSdoHelperDir={HELPER_SOURCES}"]
    assert (HELPER_SOURCES / "__main__.py").is_file()


def test_a_64_bit_python_is_refused(tmp_path):
    with pytest.raises(SdoPythonError, match="not a 32-bit"):
        check_sdo_python(prepared(tmp_path / "py64", MACHINE_AMD64))


def test_a_python_without_pywin32_or_without_python_exe_is_refused(tmp_path):
    with pytest.raises(SdoPythonError, match="no pywin32"):
        check_sdo_python(prepared(tmp_path / "bare", pywin32=False))
    with pytest.raises(SdoPythonError, match=r"no python\.exe"):
        check_sdo_python(tmp_path)
    (tmp_path / "python.exe").write_text("#!/bin/sh\n")
    with pytest.raises(SdoPythonError, match="not a Windows program"):
        check_sdo_python(tmp_path)


def test_without_a_prepared_python_the_installer_leaves_posting_out():
    assert iscc_defines(None) == []


def test_the_helpers_loop_and_com_binding_stay_out_of_the_64_bit_app_but_its_protocol_goes_in():
    assert excluded_from_package("connectors.sdo_helper.com")
    assert excluded_from_package("connectors.sdo_helper.__main__")
    assert not excluded_from_package("connectors.sdo_helper.protocol")
    assert not excluded_from_package("connectors.sage50uk_sdo")
