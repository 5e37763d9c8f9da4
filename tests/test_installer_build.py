"""The build helpers: the .ico from the SVG (read back through Qt), the version resource, the bundle policy,
signing settings from the environment. The full PyInstaller build is installer/smoke_test.sh."""

from __future__ import annotations

import ast
import struct
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QImageReader

import main
from installer import build
from installer.bundle import data_files, excluded_from_package, filter_toc, qt_plugin_kept
from installer.icon import ico_bytes, write_ico
from installer.version_info import app_version, version_tuple, write_version_file

ROOT = Path(__file__).resolve().parent.parent


def test_ico_from_the_svg_reads_back_with_every_size(qapp, tmp_path):
    ico = write_ico(
        ROOT / "resources" / "icons" / "app.svg", tmp_path / "LedgerBridge.ico", (16, 32, 48, 256)
    )
    data = ico.read_bytes()
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind, count) == (0, 1, 4)
    widths = [data[6 + 16 * index] or 256 for index in range(count)]
    assert widths == [16, 32, 48, 256]

    reader = QImageReader(str(ico), b"ico")
    assert reader.canRead(), reader.errorString()
    sizes = []
    for index in range(reader.imageCount()):
        assert reader.jumpToImage(index)
        image = reader.read()
        assert not image.isNull(), reader.errorString()
        sizes.append(image.size())
        # Drawn, not blank: the centre pixel of the icon is opaque.
        assert image.pixelColor(image.width() // 2, image.height() // 2).alpha() == 255
    assert sizes == [QSize(size, size) for size in (16, 32, 48, 256)]


def test_ico_rejects_impossible_sizes():
    with pytest.raises(ValueError, match=r"1\.\.256"):
        ico_bytes({512: b"png"})


@pytest.mark.qt_log_ignore("Cannot read file")
def test_bad_svg_is_reported_clearly(qapp, tmp_path):
    broken = tmp_path / "broken.svg"
    broken.write_text("<svg", encoding="utf-8")
    with pytest.raises(ValueError, match="not an SVG that Qt can draw"):
        write_ico(broken, tmp_path / "x.ico")


def test_version_comes_from_main():
    assert app_version() == main.__version__
    assert version_tuple("1.2.3") == (1, 2, 3, 0)
    assert version_tuple("2.0") == (2, 0, 0, 0)
    assert version_tuple("0.3.1rc2") == (0, 3, 1, 0)
    with pytest.raises(ValueError, match="65535"):
        version_tuple("70000.0")
    with pytest.raises(ValueError, match="numbers"):
        version_tuple("v1")


def test_version_file_carries_the_version(tmp_path):
    path = write_version_file(tmp_path / "v.txt", "1.4.2", "LedgerBridgeConsole")
    text = path.read_text(encoding="utf-8")
    # PyInstaller evaluates this text with its version classes; here each call is captured instead.
    calls: dict[str, list] = {}

    def recorder(name):
        def record(*args, **kwargs):
            calls.setdefault(name, []).append((args, kwargs))
            return name

        return record

    names = ["VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable", "StringStruct"]
    names += ["VarFileInfo", "VarStruct"]
    eval(compile(ast.parse(text, mode="eval"), "version", "eval"), {name: recorder(name) for name in names})
    fixed = calls["FixedFileInfo"][0][1]
    assert fixed["filevers"] == fixed["prodvers"] == (1, 4, 2, 0)
    strings = dict(args for args, _kwargs in calls["StringStruct"])
    assert strings["FileVersion"] == strings["ProductVersion"] == "1.4.2"
    assert strings["OriginalFilename"] == "LedgerBridgeConsole.exe"
    assert calls["VarStruct"][0][0] == ("Translation", [1033, 1200])


def test_missing_version_says_what_to_add(tmp_path):
    script = tmp_path / "main.py"
    script.write_text("VERSION = '1'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no top-level __version__"):
        app_version(script)


@pytest.mark.parametrize(
    ("destination", "kept"),
    [
        ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
        ("PySide6/Qt/plugins/platforms/qwindows.dll", True),
        ("PySide6/Qt/plugins/imageformats/libqsvg.so", True),
        ("PySide6\\Qt\\plugins\\imageformats\\qico.dll", True),
        ("PySide6/Qt/plugins/iconengines/libqsvgicon.so", True),
        ("PySide6/Qt/plugins/styles/qmodernwindowsstyle.dll", True),
        ("PySide6/Qt/plugins/imageformats/libqpdf.so", False),
        ("PySide6/plugins/imageformats/qpdf.dll", False),
        ("PySide6/Qt/plugins/sqldrivers/libqsqlodbc.so", False),
        ("PySide6/Qt/plugins/qmltooling/libqmldbg_tcp.so", False),
        ("PySide6/Qt/plugins/platforms/libqvnc.so", False),
        ("PySide6/Qt/lib/libQt6Core.so.6", True),
        ("somepackage/plugins/thing.so", True),
    ],
)
def test_only_the_needed_qt_plugins_are_kept(destination, kept):
    assert qt_plugin_kept(destination) is kept


def test_filter_toc_keeps_non_plugin_entries():
    toc = [
        ("PySide6/Qt/plugins/sqldrivers/libqsqlite.so", "/src/a", "BINARY"),
        ("libpython3.11.so", "/src/b", "BINARY"),
    ]
    assert filter_toc(toc) == [("libpython3.11.so", "/src/b", "BINARY")]


def test_data_files_hold_resources_and_the_sandbox_schemas_only():
    pairs = data_files(ROOT)
    destinations = {(Path(source).name, folder) for source, folder in pairs}
    assert ("app.svg", "resources/icons") in destinations
    assert ("halo_schemas.json", "halo/sandbox") in destinations
    assert all(not source.endswith((".py", ".pyc")) for source, _folder in pairs)
    assert all(not folder.startswith(("tests", "bench")) for _source, folder in pairs)


def test_missing_sandbox_schemas_say_how_to_make_them(tmp_path):
    (tmp_path / "resources").mkdir()
    with pytest.raises(FileNotFoundError, match="extract_schemas"):
        data_files(tmp_path)


def test_build_time_tools_are_not_bundled():
    assert excluded_from_package("halo.sandbox.extract_schemas")
    assert excluded_from_package("tests.test_autostart")
    assert not excluded_from_package("halo.sandbox.server")


def test_signing_settings_come_from_the_environment(monkeypatch, tmp_path):
    for name in ("LEDGERBRIDGE_SIGN_PFX", "LEDGERBRIDGE_SIGN_PASSWORD", "LEDGERBRIDGE_SIGN_THUMBPRINT"):
        monkeypatch.delenv(name, raising=False)
    assert build.signing_arguments() is None
    monkeypatch.setenv("LEDGERBRIDGE_SIGN_THUMBPRINT", "ABC123")
    assert build.signing_arguments() == ["/sha1", "ABC123"]
    pfx = tmp_path / "cert.pfx"
    monkeypatch.setenv("LEDGERBRIDGE_SIGN_PFX", str(pfx))
    with pytest.raises(build.BuildError, match="does not exist"):
        build.signing_arguments()
    pfx.write_bytes(b"not a real certificate")
    monkeypatch.setenv("LEDGERBRIDGE_SIGN_PASSWORD", "hunter2-secret")
    assert build.signing_arguments() == ["/f", str(pfx), "/p", "hunter2-secret"]


def test_the_certificate_password_is_never_printed(capsys):
    build._run([sys.executable, "-c", "pass", "/p", "hunter2-secret"], "should not fail")
    printed = capsys.readouterr()
    assert "hunter2-secret" not in printed.out + printed.err
    assert "/p ***" in printed.out


def test_failed_step_names_the_tool_and_the_fix():
    with pytest.raises(build.BuildError) as raised:
        build._run([sys.executable, "-c", "raise SystemExit(3)"], "do the thing")
    assert "exited with 3" in str(raised.value) and "do the thing" in str(raised.value)


def test_tool_from_a_wrong_environment_path_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("ISCC", str(tmp_path / "nope" / "ISCC.exe"))
    with pytest.raises(build.BuildError, match=r"ISCC=.*does not exist"):
        build.find_iscc()
