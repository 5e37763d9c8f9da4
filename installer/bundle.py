"""What goes into the frozen app: our packages, data files, the Qt plugins it uses, and nothing from tests.

Kept out of the .spec so the policy can be read, unit-tested and shared by build.py; the spec only wires
these lists into PyInstaller's Analysis/EXE/COLLECT.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_NAME = "LedgerBridge"
CONSOLE_NAME = "LedgerBridgeConsole"  # the same program as a console app (see ledgerbridge.spec)

# Our own packages: every submodule is bundled, because several are imported lazily (main.py's commands,
# connectors.registry importing connectors.sage50ca / connectors.quickbooks on demand, halo.sandbox.cli).
APP_PACKAGES = ("core", "gui", "sync", "connectors", "halo", "demo", "resources")

# Never shipped: the test suite and benchmarks (and the tools they pull in), the test-only plaintext keyring
# (sync.secrets refuses it anyway), and large Qt/Python parts LedgerBridge does not use.
EXCLUDED_MODULES = (
    "tests",
    "bench",
    "installer",
    "pytest",
    "_pytest",
    "pytestqt",
    "hypothesis",
    "keyrings.alt",
    "tkinter",
    # rapidfuzz imports numpy only for process.cdist, which LedgerBridge does not use (numpy pulls in yaml).
    "numpy",
    "yaml",
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuickWidgets",
    "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
    "PySide6.QtPdf",
    "PySide6.QtMultimedia",
    "PySide6.QtOpenGL",
    "PySide6.QtDesigner",
)

# Qt plugin folders the app needs. platforms: the window system (qwindows; on Linux xcb/wayland/offscreen);
# imageformats (svg for our icons, ico/png for the window icon); iconengines (SVG icons in menus and the
# tray); styles (the native Windows 11/Vista look); tls (HTTPS in QtNetwork, should the app ever use it;
# the REST client itself is requests + truststore). Linux additionally: xcbglintegrations (xcb needs it),
# platforminputcontexts (compose key / input methods), platformthemes (native file dialogs).
QT_PLUGIN_FOLDERS = frozenset(
    {
        "platforms",
        "imageformats",
        "iconengines",
        "styles",
        "tls",
        "xcbglintegrations",
        "platforminputcontexts",
        "platformthemes",
    }
)
# Single plugins that would drag in whole Qt modules we exclude (QtPdf, QtQuick, WebEngine).
QT_PLUGINS_DROPPED = frozenset(
    {"qpdf", "qtvirtualkeyboardplugin", "qeglfs", "qminimalegl", "qvkkhrdisplay", "qvnc", "qlinuxfb"}
)


def qt_plugin_kept(destination: str) -> bool:
    """Whether a bundled file is wanted: True for everything that is not a Qt plugin we left out."""
    parts = PurePosixPath(destination.replace("\\", "/")).parts
    if "plugins" not in parts:
        return True
    index = parts.index("plugins")
    if index == 0 or parts[index - 1] not in ("Qt", "PySide6") or index + 1 >= len(parts):
        return True
    if parts[index + 1] not in QT_PLUGIN_FOLDERS:
        return False
    stem = PurePosixPath(parts[-1]).stem
    for prefix in ("lib",):
        if stem.startswith(prefix):
            stem = stem[len(prefix) :]
    return stem not in QT_PLUGINS_DROPPED


def filter_toc(entries: Iterable[tuple]) -> list[tuple]:
    """A PyInstaller TOC (dest, source, kind) without the Qt plugins we do not ship."""
    return [entry for entry in entries if qt_plugin_kept(entry[0])]


def data_files(root: Path = REPO_ROOT) -> list[tuple[str, str]]:
    """(source, destination folder) for every data file: all of resources/ and the sandbox's schemas.

    Python sources are left to the module analysis (they are compiled into the archive); caches never go in.
    """
    pairs: list[tuple[str, str]] = []
    resources = root / "resources"
    for path in sorted(resources.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix in (".py", ".pyc"):
            continue
        pairs.append((str(path), str(path.parent.relative_to(root).as_posix())))
    schemas = root / "halo" / "sandbox" / "halo_schemas.json"
    if not schemas.is_file():
        raise FileNotFoundError(
            f"{schemas} is missing; the demo's local Halo needs it. Generate it with "
            "`python -m halo.sandbox.extract_schemas` before building."
        )
    pairs.append((str(schemas), "halo/sandbox"))
    return pairs


BUILD_TOOLS = frozenset({"halo.sandbox.extract_schemas"})
# The Sage 50 UK posting helper's loop and COM binding run only in its own 32-bit Python, from the .py files
# the installer copies to {app}\sdo (installer/README.md); the 64-bit app imports only its protocol.
HELPER_ONLY = frozenset({"connectors.sdo_helper.__main__", "connectors.sdo_helper.com"})


def excluded_from_package(module_name: str) -> bool:
    """Submodules of our packages that are build-time tools, not part of the app."""
    return module_name in BUILD_TOOLS | HELPER_ONLY or module_name.split(".")[0] in EXCLUDED_MODULES
