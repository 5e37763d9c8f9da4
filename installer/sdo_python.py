"""The 32-bit Python the Sage 50 UK posting helper runs under, checked before Inno Setup packs it.

Why: Sage Data Objects is a 32-bit in-process COM server, so its helper (connectors/sdo_helper) must run
under a 32-bit Python with pywin32 (docs/writing-sage.md). The build does not download anything: whoever
builds points LEDGERBRIDGE_SDO_PYTHON at a prepared folder (installer/README.md, "The SDO helper's
Python"), and this module refuses a folder that would only fail on the customer's PC: no python.exe, a
64-bit one, or no pywin32 in it.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from installer.bundle import REPO_ROOT

SDO_PYTHON_ENV = "LEDGERBRIDGE_SDO_PYTHON"
HELPER_SOURCES = REPO_ROOT / "connectors" / "sdo_helper"
# IMAGE_FILE_HEADER.Machine values (the PE format): what an .exe was built for.
MACHINE_I386 = 0x014C
MACHINE_AMD64 = 0x8664


class SdoPythonError(Exception):
    """The folder cannot run the helper; the message says what is wrong and how to fix it."""


def pe_machine(executable: Path) -> int:
    """The Machine field of a Windows executable's PE header (0x14c for 32-bit x86)."""
    data = executable.read_bytes()[:4096]
    if data[:2] != b"MZ" or len(data) < 0x40:
        raise SdoPythonError(f"{executable} is not a Windows program")
    (pe_offset,) = struct.unpack_from("<I", data, 0x3C)
    if data[pe_offset : pe_offset + 4] != b"PE\0\0":
        raise SdoPythonError(f"{executable} has no PE header")
    (machine,) = struct.unpack_from("<H", data, pe_offset + 4)
    return int(machine)


def check_sdo_python(folder: Path) -> Path:
    """``folder`` when it holds a 32-bit python.exe with pywin32's win32com; SdoPythonError otherwise."""
    python = folder / "python.exe"
    if not python.is_file():
        raise SdoPythonError(f"{SDO_PYTHON_ENV}={folder} has no python.exe; point it at the prepared folder")
    if pe_machine(python) != MACHINE_I386:
        raise SdoPythonError(
            f"{python} is not a 32-bit (x86) Python; SDO is 32-bit, so the helper needs the x86 embeddable "
            "one"
        )
    if not any(folder.glob("**/win32com/__init__.py")):
        raise SdoPythonError(
            f"{folder} has no pywin32 (win32com); install pywin32 into it (installer/README.md)"
        )
    return folder


def sdo_python_folder() -> Path | None:
    """The prepared folder from the environment, checked; None when the build leaves posting out."""
    configured = os.environ.get(SDO_PYTHON_ENV, "")
    return check_sdo_python(Path(configured)) if configured else None


def iscc_defines(folder: Path | None) -> list[str]:
    """The ISCC /D options that make ledgerbridge.iss ship the helper and its Python (none without one)."""
    if folder is None:
        return []
    return [f"/DSdoPythonDir={folder}", f"/DSdoHelperDir={HELPER_SOURCES}"]
