"""Build LedgerBridge: the frozen app (PyInstaller); on Windows the installer (Inno Setup) and signatures.

    python installer/build.py [--dist DIR] [--work DIR] [--clean] [--no-installer]

Signing (Windows, optional): set LEDGERBRIDGE_SIGN_PFX (path to a .pfx) and LEDGERBRIDGE_SIGN_PASSWORD, or
LEDGERBRIDGE_SIGN_THUMBPRINT (a certificate in the user's store); LEDGERBRIDGE_SIGN_TIMESTAMP_URL overrides
the RFC 3161 timestamp server; SIGNTOOL / ISCC point at the tools when they are not on PATH. The certificate
and its password only ever come from the environment, never from a file in the repository.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `installer` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from installer.bundle import APP_NAME, CONSOLE_NAME, REPO_ROOT
from installer.sdo_python import SDO_PYTHON_ENV, SdoPythonError, iscc_defines, sdo_python_folder
from installer.version_info import app_version, version_tuple

SPEC_FILE = REPO_ROOT / "installer" / "ledgerbridge.spec"
ISS_FILE = REPO_ROOT / "installer" / "ledgerbridge.iss"
DEFAULT_TIMESTAMP_URL = "http://timestamp.digicert.com"


class BuildError(Exception):
    """A build step failed; the message says which and what to do."""


def executable_name(stem: str = APP_NAME) -> str:
    return f"{stem}.exe" if sys.platform == "win32" else stem


def build_frozen_app(dist: Path, work: Path, *, clean: bool = False) -> Path:
    """Run PyInstaller on the spec; returns the one-folder bundle (dist/LedgerBridge)."""
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        str(SPEC_FILE),
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(dist),
        "--workpath",
        str(work),
    ]
    if clean:
        command.append("--clean")
    _run(command, "PyInstaller failed; its messages above say which module or file it could not find")
    bundle = dist / APP_NAME
    if not (bundle / executable_name()).is_file():
        raise BuildError(
            f"PyInstaller finished but {bundle / executable_name()} is missing; rerun with --clean"
        )
    return bundle


def find_tool(
    environment_variable: str, names: Sequence[str], known_locations: Sequence[Path]
) -> Path | None:
    """A build tool from its environment variable, PATH, or where its installer usually puts it."""
    configured = os.environ.get(environment_variable)
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise BuildError(f"{environment_variable}={configured} does not exist; fix or unset it")
        return path
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    return next((path for path in known_locations if path.is_file()), None)


def find_iscc() -> Path | None:
    program_files = [
        os.environ.get(name, "") for name in ("PROGRAMFILES(X86)", "PROGRAMFILES", "LOCALAPPDATA")
    ]
    candidates = [Path(base) / "Inno Setup 6" / "ISCC.exe" for base in program_files if base]
    local = os.environ.get("LOCALAPPDATA")
    if local:
        candidates.append(Path(local) / "Programs" / "Inno Setup 6" / "ISCC.exe")
    return find_tool("ISCC", ["ISCC", "iscc"], candidates)


def find_signtool() -> Path | None:
    kits = (
        Path(os.environ.get("PROGRAMFILES(X86)", r"C:\Program Files (x86)")) / "Windows Kits" / "10" / "bin"
    )
    candidates = sorted(kits.glob("*/x64/signtool.exe"), reverse=True) if kits.is_dir() else []
    return find_tool("SIGNTOOL", ["signtool"], candidates)


def signing_arguments() -> list[str] | None:
    """signtool's certificate arguments from the environment, or None when no certificate is configured."""
    pfx = os.environ.get("LEDGERBRIDGE_SIGN_PFX")
    thumbprint = os.environ.get("LEDGERBRIDGE_SIGN_THUMBPRINT")
    if pfx:
        if not Path(pfx).is_file():
            raise BuildError(
                f"LEDGERBRIDGE_SIGN_PFX={pfx} does not exist; point it at your code-signing .pfx"
            )
        arguments = ["/f", pfx]
        password = os.environ.get("LEDGERBRIDGE_SIGN_PASSWORD")
        if password:
            arguments += ["/p", password]
        return arguments
    if thumbprint:
        return ["/sha1", thumbprint]
    return None


def sign(files: Sequence[Path], signtool: Path, certificate: list[str]) -> None:
    timestamp_url = os.environ.get("LEDGERBRIDGE_SIGN_TIMESTAMP_URL", DEFAULT_TIMESTAMP_URL)
    for file in files:
        command = [
            str(signtool),
            "sign",
            "/fd",
            "SHA256",
            "/tr",
            timestamp_url,
            "/td",
            "SHA256",
            *certificate,
        ]
        command += ["/d", "LedgerBridge", str(file)]
        _run(command, f"signtool could not sign {file}: check the certificate, its password and the network")


def build_installer(
    bundle: Path, output_dir: Path, icon: Path, iscc: Path, version: str, sdo_python: Path | None = None
) -> Path:
    """Compile installer/ledgerbridge.iss against the bundle; returns the setup program. With ``sdo_python``
    (a checked 32-bit Python folder) the setup also installs the Sage 50 UK posting helper."""
    command = [
        str(iscc),
        f"/DAppVersion={version}",
        f"/DAppNumericVersion={'.'.join(str(part) for part in version_tuple(version))}",
        f"/DBundleDir={bundle}",
        f"/DOutputDir={output_dir}",
        f"/DIconFile={icon}",
        *iscc_defines(sdo_python),
        str(ISS_FILE),
    ]
    _run(command, "Inno Setup could not compile the installer; its message above names the line")
    setup = output_dir / f"LedgerBridge-{version}-setup.exe"
    if not setup.is_file():
        raise BuildError(f"Inno Setup finished but {setup} is missing")
    return setup


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def _run(command: Sequence[str], failure_advice: str) -> None:
    shown = " ".join(
        "***" if previous == "/p" else part for previous, part in zip(["", *command], command, strict=False)
    )
    print(f"$ {shown}", flush=True)
    result = subprocess.run(list(command), check=False)
    if result.returncode != 0:
        raise BuildError(f"{Path(command[0]).name} exited with {result.returncode}: {failure_advice}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dist", type=Path, default=REPO_ROOT / "dist", help="output folder (default: dist/)"
    )
    parser.add_argument("--work", type=Path, default=REPO_ROOT / "build", help="PyInstaller's work folder")
    parser.add_argument("--clean", action="store_true", help="empty PyInstaller's cache first")
    parser.add_argument("--no-installer", action="store_true", help="only the frozen app, no Inno Setup")
    args = parser.parse_args(argv)
    started = time.monotonic()
    version = app_version()
    try:
        bundle = build_frozen_app(args.dist.resolve(), args.work.resolve(), clean=args.clean)
        print(f"Frozen app: {bundle} ({folder_size(bundle) / 1e6:.1f} MB), version {version}")
        print(f"Executables: {bundle / executable_name()} and {bundle / executable_name(CONSOLE_NAME)}")
        if sys.platform != "win32" or args.no_installer:
            print(f"Done in {time.monotonic() - started:.0f} s (no Windows installer on this platform).")
            return 0
        certificate = signing_arguments()
        signtool = find_signtool() if certificate else None
        if certificate and signtool is None:
            raise BuildError(
                "A signing certificate is set but signtool.exe was not found: install the Windows SDK"
            )
        if certificate and signtool:
            sign([bundle / executable_name(), bundle / executable_name(CONSOLE_NAME)], signtool, certificate)
        iscc = find_iscc()
        if iscc is None:
            print(
                "Inno Setup 6 (ISCC.exe) not found: install it from https://jrsoftware.org/isdl.php "
                "or set ISCC to its path."
            )
            return 0
        icon = args.work.resolve() / "ledgerbridge" / f"{APP_NAME}.ico"
        try:
            sdo_python = sdo_python_folder()
        except SdoPythonError as error:
            raise BuildError(str(error)) from None
        if sdo_python is None:
            print(
                f"{SDO_PYTHON_ENV} is not set: this installer leaves out Sage 50 UK posting (the SDO helper "
                "and its 32-bit Python; installer/README.md says how to prepare them)."
            )
        setup = build_installer(bundle, args.dist.resolve(), icon, iscc, version, sdo_python)
        if certificate and signtool:
            sign([setup], signtool, certificate)
        print(f"Installer: {setup} ({setup.stat().st_size / 1e6:.1f} MB){' (signed)' if certificate else ''}")
        print(f"Done in {time.monotonic() - started:.0f} s.")
        return 0
    except BuildError as error:
        print(f"Build failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
