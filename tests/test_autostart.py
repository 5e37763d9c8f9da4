"""Start at login: the XDG entry for real on Linux; the Windows Run key with only winreg faked.

winreg exists only on Windows, so the Windows tests hand gui.autostart a stand-in registry module that keeps
values in a dict and records every call. Everything else (command building, quoting, the XDG file, GLib
parsing it back) is real.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gui import autostart
from gui.autostart import (
    RUN_KEY_PATH,
    RUN_VALUE_NAME,
    AutostartError,
    WindowsRunKey,
    XdgAutostart,
    desktop_exec_line,
    windows_command_line,
)

# --- a stand-in winreg (Windows only in reality) -----------------------------------------------------------


class FakeWinreg:
    """Only what gui.autostart uses, with real winreg's error behaviour (FileNotFoundError when absent)."""

    HKEY_CURRENT_USER = 0x80000001
    KEY_SET_VALUE = 0x0002
    KEY_QUERY_VALUE = 0x0001
    REG_SZ = 1

    def __init__(self, *, run_key_exists: bool = True, deny_writes: bool = False) -> None:
        self.keys: dict[tuple[int, str], dict[str, tuple[object, int]]] = {}
        if run_key_exists:
            self.keys[(self.HKEY_CURRENT_USER, RUN_KEY_PATH)] = {}
        self.deny_writes = deny_writes
        self.calls: list[tuple] = []

    class _Key:
        def __init__(self, path: tuple[int, str], access: int) -> None:
            self.path, self.access = path, access

        def __enter__(self):
            return self

        def __exit__(self, *exc_info) -> None:
            return None

    def OpenKey(self, root, sub_key, reserved=0, access=0):
        self.calls.append(("OpenKey", root, sub_key, access))
        if (root, sub_key) not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self._Key((root, sub_key), access)

    def CreateKeyEx(self, root, sub_key, reserved=0, access=0):
        self.calls.append(("CreateKeyEx", root, sub_key, access))
        if self.deny_writes:
            raise PermissionError(5, "Access is denied")
        self.keys.setdefault((root, sub_key), {})
        return self._Key((root, sub_key), access)

    def SetValueEx(self, key, name, reserved, value_type, value):
        self.calls.append(("SetValueEx", name, value_type, value))
        assert key.access & self.KEY_SET_VALUE, "opened without KEY_SET_VALUE"
        self.keys[key.path][name] = (value, value_type)

    def QueryValueEx(self, key, name):
        self.calls.append(("QueryValueEx", name))
        assert key.access & self.KEY_QUERY_VALUE, "opened without KEY_QUERY_VALUE"
        if name not in self.keys[key.path]:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return self.keys[key.path][name]

    def DeleteValue(self, key, name):
        self.calls.append(("DeleteValue", name))
        assert key.access & self.KEY_SET_VALUE, "opened without KEY_SET_VALUE"
        if self.deny_writes:
            raise PermissionError(5, "Access is denied")
        if name not in self.keys[key.path]:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del self.keys[key.path][name]

    def run_value(self) -> object | None:
        entry = self.keys.get((self.HKEY_CURRENT_USER, RUN_KEY_PATH), {}).get(RUN_VALUE_NAME)
        return entry[0] if entry else None


INSTALLED_EXE = r"C:\Users\Jo Bloggs\AppData\Local\Programs\LedgerBridge\LedgerBridge.exe"


def test_windows_run_key_written_like_the_installer_writes_it():
    registry = FakeWinreg()
    run_key = WindowsRunKey(registry)
    assert not run_key.is_enabled()

    run_key.set(True, [INSTALLED_EXE, "--minimized"])

    # The installer's [Registry] entry: ValueData: """{app}\LedgerBridge.exe"" --minimized"
    assert registry.run_value() == f'"{INSTALLED_EXE}" --minimized'
    assert registry.keys[(registry.HKEY_CURRENT_USER, RUN_KEY_PATH)][RUN_VALUE_NAME][1] == registry.REG_SZ
    assert run_key.is_enabled()

    run_key.set(False, [INSTALLED_EXE, "--minimized"])
    assert registry.run_value() is None
    assert not run_key.is_enabled()
    run_key.set(False, [INSTALLED_EXE, "--minimized"])  # turning off twice is fine
    assert ("DeleteValue", RUN_VALUE_NAME) in registry.calls


def test_windows_denied_write_says_what_to_do():
    run_key = WindowsRunKey(FakeWinreg(deny_writes=True))
    with pytest.raises(AutostartError) as raised:
        run_key.set(True, [INSTALLED_EXE, "--minimized"])
    message = str(raised.value)
    assert "Access is denied" in message
    assert "IT administrator" in message and "Start menu" in message


def test_windows_missing_run_key_reads_as_off_and_is_created_on_enable():
    registry = FakeWinreg(run_key_exists=False)
    run_key = WindowsRunKey(registry)
    assert not run_key.is_enabled()
    run_key.set(False, [INSTALLED_EXE, "--minimized"])  # nothing to turn off, no error
    run_key.set(True, [INSTALLED_EXE, "--minimized"])
    assert run_key.is_enabled()


@pytest.mark.parametrize(
    "arguments",
    [
        ["--minimized"],
        ["--config", r"C:\Users\Jo Bloggs\My Settings\settings.toml"],
        ['with "quote"', "trailing backslash\\", r"C:\dir\\"],
        [""],
    ],
)
def test_windows_command_line_round_trips_through_the_windows_rules(arguments):
    line = windows_command_line([INSTALLED_EXE, *arguments])
    assert _command_line_to_argv(line) == [INSTALLED_EXE, *arguments]


def _command_line_to_argv(line: str) -> list[str]:
    """Independent re-implementation of CommandLineToArgvW's documented rules (not callable on Linux)."""
    assert line.startswith('"')
    program_end = line.index('"', 1)
    argv = [line[1:program_end]]
    index, length = program_end + 1, len(line)
    while index < length:
        while index < length and line[index] in " \t":
            index += 1
        if index >= length:
            break
        current, in_quotes = [], False
        while index < length and (in_quotes or line[index] not in " \t"):
            backslashes = 0
            while index < length and line[index] == "\\":
                backslashes += 1
                index += 1
            if index < length and line[index] == '"':
                current.append("\\" * (backslashes // 2))
                if backslashes % 2:
                    current.append('"')
                else:
                    in_quotes = not in_quotes
                index += 1
            else:
                current.append("\\" * backslashes)
                if index < length and (in_quotes or line[index] not in " \t"):
                    current.append(line[index])
                    index += 1
        argv.append("".join(current))
    return argv


def test_dispatch_on_windows_uses_the_run_key_and_the_frozen_exe(monkeypatch):
    registry = FakeWinreg()
    monkeypatch.setattr(autostart, "_import_winreg", lambda: registry)
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/Program Files/LedgerBridge/LedgerBridge.exe")

    autostart.set_start_at_login(True)
    assert autostart.is_start_at_login()
    expected_exe = str(Path("/opt/Program Files/LedgerBridge/LedgerBridge.exe").resolve())
    assert registry.run_value() == f'"{expected_exe}" --minimized'
    autostart.set_start_at_login(False)
    assert not autostart.is_start_at_login()


def test_macos_is_refused_with_a_clear_message(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not autostart.autostart_supported()
    assert autostart.is_start_at_login() is False
    with pytest.raises(AutostartError, match="not supported on this system"):
        autostart.set_start_at_login(True)


# --- Linux: the real XDG autostart entry --------------------------------------------------------------------


def test_unfrozen_command_runs_main_py_minimized():
    command = autostart.launch_command()
    assert command[0] == str(Path(sys.executable).resolve())
    assert Path(command[1]).name == "main.py" and Path(command[1]).is_file()
    assert command[-1] == "--minimized"


def test_xdg_entry_written_read_and_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config home"))
    entry = tmp_path / "config home" / "autostart" / "ledgerbridge.desktop"
    assert not autostart.is_start_at_login()

    autostart.set_start_at_login(True)

    assert entry.is_file()
    assert autostart.is_start_at_login()
    groups = _parse_desktop_file(entry.read_text(encoding="utf-8"))
    desktop = groups["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Name"] == "LedgerBridge"
    assert _unquote_exec(desktop["Exec"]) == autostart.launch_command()
    assert not list(entry.parent.glob("*.tmp"))

    autostart.set_start_at_login(False)
    assert not entry.exists()
    assert not autostart.is_start_at_login()
    autostart.set_start_at_login(False)  # already off: no error


def test_xdg_entry_disabled_by_the_desktop_reads_as_off(tmp_path):
    entry_dir = tmp_path / "autostart"
    entry_dir.mkdir()
    (entry_dir / "ledgerbridge.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=LedgerBridge\nExec=ledgerbridge --minimized\nHidden=true\n",
        encoding="utf-8",
    )
    assert not XdgAutostart(tmp_path).is_enabled()


def test_xdg_relative_config_home_is_ignored(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/path")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert autostart.xdg_config_home() == tmp_path / ".config"


def test_xdg_unwritable_folder_says_what_to_do(tmp_path):
    blocker = tmp_path / "not a folder"
    blocker.write_text("a file where the config folder should be", encoding="utf-8")
    with pytest.raises(AutostartError) as raised:
        XdgAutostart(blocker).set(True, ["/usr/bin/ledgerbridge", "--minimized"])
    assert "could not be written" in str(raised.value)
    assert "Check that you own" in str(raised.value)


AWKWARD_ARGUMENTS = [
    "--config",
    "/home/jo/My Books/settings 100%.toml",
    'quote " dollar $HOME back\\slash `tick`',
    "",
]


def test_exec_quoting_per_the_spec():
    line = desktop_exec_line(["/opt/Ledger Bridge/ledgerbridge", "--minimized"])
    assert line == '"/opt/Ledger Bridge/ledgerbridge" --minimized'
    # A backslash inside a quoted argument is four backslashes in the file (spec, "The Exec key").
    assert desktop_exec_line(["/a b/prog", "x\\y"]) == '"/a b/prog" "x\\\\\\\\y"'
    assert desktop_exec_line(["/usr/bin/prog", "50%"]) == "/usr/bin/prog 50%%"
    assert _unquote_exec(desktop_exec_line(["/opt/Ledger Bridge/prog", *AWKWARD_ARGUMENTS])) == [
        "/opt/Ledger Bridge/prog",
        *AWKWARD_ARGUMENTS,
    ]


@pytest.mark.skipif(shutil.which("gio") is None, reason="needs GLib's gio tool to launch the entry")
def test_glib_launches_the_entry_with_the_exact_arguments(tmp_path):
    """The real desktop-side parser (GLib, what GNOME/Xfce use) runs our Exec line with our arguments."""
    program_dir = tmp_path / "Program Files $x" / "Ledger Bridge"
    program_dir.mkdir(parents=True)
    recorder = program_dir / "record args.py"
    output = tmp_path / "argv.json"
    recorder.write_text(
        "import json, sys\nopen(sys.argv[1], 'w', encoding='utf-8').write(json.dumps(sys.argv[2:]))\n",
        encoding="utf-8",
    )
    argv = [sys.executable, str(recorder), str(output), *AWKWARD_ARGUMENTS]
    XdgAutostart(tmp_path / "config").set(True, argv)
    entry = tmp_path / "config" / "autostart" / "ledgerbridge.desktop"

    subprocess.run(["gio", "launch", str(entry)], check=True, timeout=30, capture_output=True)
    deadline = time.monotonic() + 20
    while not output.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    assert json.loads(output.read_text(encoding="utf-8")) == AWKWARD_ARGUMENTS


def _parse_desktop_file(text: str) -> dict[str, dict[str, str]]:
    groups: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = groups.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"key outside a group: {line!r}"
        key, separator, value = line.partition("=")
        assert separator, f"not a key=value line: {line!r}"
        current[key] = value
    return groups


def _unquote_exec(value: str) -> list[str]:
    """Undo the string escapes, then split per the Exec quoting rules (independent of the writer)."""
    unescaped, index = [], 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            following = value[index + 1]
            unescaped.append(
                {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(following, "\\" + following)
            )
            index += 2
            continue
        unescaped.append(char)
        index += 1
    text = "".join(unescaped)
    arguments, current, in_quotes, started, index = [], [], False, False, 0
    while index < len(text):
        char = text[index]
        if in_quotes:
            if char == "\\" and text[index + 1] in '"`$\\':
                current.append(text[index + 1])
                index += 2
                continue
            if char == "%":
                assert text[index + 1] == "%", "only %% may appear: we never use field codes"
                current.append("%")
                index += 2
                continue
            if char == '"':
                in_quotes = False
            else:
                current.append(char)
        elif char == '"':
            in_quotes, started = True, True
        elif char == " ":
            if started:
                arguments.append("".join(current))
            current, started = [], False
        elif char == "%":
            assert text[index + 1] == "%", "only %% may appear: we never use field codes"
            current.append("%")
            started = True
            index += 2
            continue
        else:
            current.append(char)
            started = True
        index += 1
    assert not in_quotes, "unterminated quote"
    if started:
        arguments.append("".join(current))
    return arguments


def test_unfrozen_on_windows_uses_pythonw_so_no_console_flashes(monkeypatch, tmp_path):
    interpreter_dir = tmp_path / "Python 3.11"
    interpreter_dir.mkdir()
    (interpreter_dir / "python.exe").write_bytes(b"")
    (interpreter_dir / "pythonw.exe").write_bytes(b"")
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "executable", str(interpreter_dir / "python.exe"))
    command = autostart.launch_command()
    assert command[0] == str((interpreter_dir / "pythonw.exe").resolve())
    assert Path(command[1]).name == "main.py"
    assert command[2] == "--minimized"


def test_these_modules_load_no_qt_themselves():
    """autostart and the mutex are plain Python (the gui package's __init__ loads Qt for its own guard)."""
    probe = (
        "import importlib.util, sys\n"
        "for name in ('autostart', 'win_mutex'):\n"
        "    spec = importlib.util.spec_from_file_location(name, f'gui/{name}.py')\n"
        "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(any(module.startswith('PySide6') for module in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == "False"
