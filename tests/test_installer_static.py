"""Static checks of the Inno Setup script and the PyInstaller spec against the code they must agree with.

The installer and the app both write the Run value and both refer to the app mutex; a mismatch would only
show on a Windows machine after release, so it is caught here by reading the files.
"""

from __future__ import annotations

import ast
import ntpath
import re
import subprocess
import types
from pathlib import Path

import platformdirs.windows
import pytest

from gui.autostart import RUN_KEY_PATH, RUN_VALUE_NAME, windows_command_line
from gui.win_mutex import APP_MUTEX_NAME
from installer.bundle import EXCLUDED_MODULES
from sync.paths import APP_NAME

ROOT = Path(__file__).resolve().parent.parent
ISS = (ROOT / "installer" / "ledgerbridge.iss").read_text(encoding="utf-8")
SPEC = (ROOT / "installer" / "ledgerbridge.spec").read_text(encoding="utf-8")


def iss_define(name: str) -> str:
    match = re.search(rf'^#define {name} "(.*)"$', ISS, re.MULTILINE)
    assert match, f"#define {name} missing from ledgerbridge.iss"
    return match.group(1)


def iss_setup(directive: str) -> str:
    setup = ISS.split("[Setup]", 1)[1].split("\n[", 1)[0]
    match = re.search(rf"^{directive}=(.*)$", setup, re.MULTILINE)
    assert match, f"{directive}= missing from [Setup]"
    return match.group(1).strip()


def expand(text: str) -> str:
    """Inno's preprocessor {#Name} substitutions."""
    return re.sub(r"\{#(\w+)\}", lambda match: iss_define(match.group(1)), text)


def test_app_mutex_matches_the_app():
    assert iss_define("AppMutexName") == APP_MUTEX_NAME
    assert expand(iss_setup("AppMutex")) == APP_MUTEX_NAME
    assert iss_setup("CloseApplications") == "yes"


def test_run_value_matches_what_the_app_writes():
    registry_line = next(line for line in ISS.splitlines() if line.startswith("Root: HKCU;"))
    fields = dict(part.strip().split(": ", 1) for part in registry_line.split("; "))
    assert expand(fields["Subkey"]) == f'"{RUN_KEY_PATH}"'
    assert expand(fields["ValueName"]) == f'"{RUN_VALUE_NAME}"'
    assert fields["ValueType"] == "string"
    assert fields["Tasks"] == "startatlogin"
    assert "uninsdeletevalue" in fields["Flags"]
    # Inno string: outer quotes delimit, "" is one literal quote; {app} is the install folder.
    value_data = expand(fields["ValueData"])
    assert value_data.startswith('"') and value_data.endswith('"')
    installed_folder = r"C:\Users\Jo Bloggs\AppData\Local\Programs\LedgerBridge"
    written_by_installer = value_data[1:-1].replace('""', '"').replace("{app}", installed_folder)
    written_by_app = windows_command_line([installed_folder + r"\LedgerBridge.exe", "--minimized"])
    assert written_by_installer == written_by_app
    # The uninstaller also clears a value the app set by itself.
    assert "RegDeleteValue(HKEY_CURRENT_USER, '{#RunKey}', '{#RunValueName}')" in ISS


def test_per_user_install_with_a_stable_app_id():
    assert iss_setup("PrivilegesRequired") == "lowest"
    assert iss_setup("DefaultDirName").startswith("{autopf}\\")  # = {userpf} when not elevated
    app_id = iss_setup("AppId")
    assert re.fullmatch(r"\{\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}", app_id)
    assert iss_define("AppIdBare") == app_id[1:]  # the upgrade check reads this AppId's uninstall key
    assert iss_setup("AppVersion") == "{#AppVersion}"
    assert "{autoprograms}" in ISS  # Start-menu entry
    assert iss_setup("SetupIconFile") == "{#IconFile}"


def test_start_with_windows_is_offered_on_first_install_only():
    task_line = next(line for line in ISS.splitlines() if line.startswith('Name: "startatlogin"'))
    assert "Check: not IsUpgrade" in task_line
    assert "Flags: unchecked" not in task_line  # ticked by default on a first install
    assert "Uninstall\\{#AppIdBare}_is1" in ISS


def test_uninstall_asks_before_removing_user_data_and_keeps_it_when_silent():
    code = ISS.split("[Code]", 1)[1]
    assert "MsgBox(" in code and "MB_DEFBUTTON2" in code  # default answer: keep
    assert "not UninstallSilent" in code
    assert "DelTree(UserDataFolder()" in code
    assert "if RemoveUserData then" in code


def test_user_data_folder_is_where_platformdirs_puts_it_on_windows(monkeypatch):
    """sync/paths.py uses platformdirs; compute its Windows answers on Linux.

    Faked: the Windows known-folder lookup (a Win32 call) and os.path (Windows path rules, ntpath).
    """
    local_appdata = r"C:\Users\Jo\AppData\Local"
    monkeypatch.setattr(platformdirs.windows, "os", types.SimpleNamespace(path=ntpath))
    monkeypatch.setattr(
        platformdirs.windows,
        "get_win_folder",
        lambda csidl: {"CSIDL_LOCAL_APPDATA": local_appdata}.get(csidl, r"C:\elsewhere"),
    )
    dirs = platformdirs.windows.Windows(appname=APP_NAME, appauthor=False)
    assert dirs.user_config_dir == dirs.user_data_dir == local_appdata + r"\LedgerBridge"
    assert dirs.user_log_dir == local_appdata + r"\LedgerBridge\Logs"
    assert iss_define("AppDataFolder") == r"{localappdata}\LedgerBridge"
    docs = (ROOT / "docs" / "installing.md").read_text(encoding="utf-8")
    assert r"%LOCALAPPDATA%\LedgerBridge\Logs" in docs
    assert r"%LOCALAPPDATA%\LedgerBridge\settings.toml" in docs


def _spec_call(name: str) -> ast.Call:
    tree = ast.parse(SPEC)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
            return node
    raise AssertionError(f"{name}(...) not found in ledgerbridge.spec")


def _keyword(call: ast.Call, name: str) -> ast.expr:
    return next(keyword.value for keyword in call.keywords if keyword.arg == name)


def test_spec_excludes_tests_and_bench_and_uses_no_upx():
    assert {"tests", "bench", "installer", "pytest", "hypothesis", "keyrings.alt"} <= set(EXCLUDED_MODULES)
    excludes = _keyword(_spec_call("Analysis"), "excludes")
    assert ast.unparse(excludes) == "list(EXCLUDED_MODULES)"
    for call_name in ("EXE", "COLLECT"):
        assert ast.literal_eval(_keyword(_spec_call(call_name), "upx")) is False
    exe = _spec_call("EXE")
    assert ast.literal_eval(_keyword(exe, "exclude_binaries")) is True  # one folder, not one file
    assert "write_version_file(" in ast.unparse(_keyword(exe, "version"))
    # The app is windowed on Windows; its twin for scripts and people at a prompt is a console program.
    assert "app_exe = executable(APP_NAME, console=not ON_WINDOWS)" in SPEC
    assert "console_exe = executable(CONSOLE_NAME, console=True)" in SPEC
    collect_targets = [ast.unparse(argument) for argument in _spec_call("COLLECT").args]
    assert collect_targets[:2] == ["app_exe", "console_exe"]
    assert "filter_toc(analysis.binaries)" in SPEC and "filter_toc(analysis.datas)" in SPEC


def test_spec_does_not_name_test_paths_as_data():
    datas = ast.unparse(_keyword(_spec_call("Analysis"), "datas"))
    assert datas == "data_files(ROOT)"
    code_only = ast.unparse(ast.parse(SPEC))  # comments dropped
    assert "tests/" not in code_only and "bench/" not in code_only


def test_smoke_script_is_executable_valid_bash():
    script = ROOT / "installer" / "smoke_test.sh"
    assert script.stat().st_mode & 0o111
    subprocess.run(["bash", "-n", str(script)], check=True)


@pytest.mark.parametrize("section", ["[Setup]", "[Tasks]", "[Files]", "[Icons]", "[Registry]", "[Code]"])
def test_iss_has_every_section(section):
    assert f"\n{section}\n" in ISS


def test_the_sdo_helper_and_its_python_go_where_the_sage_writer_looks():
    """connectors/sage50uk_sdo.py finds {app}\\sdo\\python\\python.exe and {app}\\sdo\\sdo_helper\\."""
    from connectors.sage50uk_sdo import HELPER_PACKAGE, INSTALLED_FOLDER, INSTALLED_PYTHON

    files = ISS.split("\n[Files]\n", 1)[1].split("\n[", 1)[0]
    sdo_block = files.split("#ifdef SdoPythonDir", 1)[1].split("#endif", 1)[0]
    python_line, helper_line = (line for line in sdo_block.splitlines() if line.startswith("Source:"))
    assert f'DestDir: "{{app}}\\{INSTALLED_FOLDER}\\{INSTALLED_PYTHON[0]}"' in python_line
    assert "recursesubdirs" in python_line
    assert helper_line.startswith('Source: "{#SdoHelperDir}\\*.py"')
    assert f'DestDir: "{{app}}\\{INSTALLED_FOLDER}\\{HELPER_PACKAGE}"' in helper_line
    # An upgrade replaces the helper as it does the bundle, so no older helper file lingers.
    assert f'Type: filesandordirs; Name: "{{app}}\\{INSTALLED_FOLDER}"' in ISS
