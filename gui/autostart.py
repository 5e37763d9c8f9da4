"""Start LedgerBridge (minimised to the tray) when the user logs in.

Windows: the per-user Run key, value ``LedgerBridge`` — the very value the installer's "Start with Windows"
task writes, so the app's checkbox and the installer agree and the uninstaller removes it. Linux: an XDG
autostart entry. macOS: not supported yet (a clear message instead of a silent no-op).

No Qt here: the settings page calls these on the GUI thread; they touch only the registry or one small file.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from types import ModuleType

RUN_KEY_PATH = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE_NAME = "LedgerBridge"
DESKTOP_FILE_NAME = "ledgerbridge.desktop"
MINIMIZED_FLAG = "--minimized"

# Characters that force an Exec argument into double quotes (Desktop Entry spec, "The Exec key").
_EXEC_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")
# Inside double quotes these must be backslash-escaped.
_EXEC_QUOTED_ESCAPES = set('"`$\\')


class AutostartError(Exception):
    """Start-at-login could not be changed; the message says why and what the user can do."""


def autostart_supported() -> bool:
    """Whether this platform can start LedgerBridge at login (the GUI greys the option out otherwise)."""
    return sys.platform == "win32" or sys.platform.startswith("linux")


def launch_command() -> list[str]:
    """The program and arguments that start this LedgerBridge minimised to the tray.

    Frozen: the bundled executable itself. From a checkout: the interpreter (pythonw on Windows, so no
    console window flashes up at login) running main.py.
    """
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).resolve()), MINIMIZED_FLAG]
    interpreter = Path(sys.executable).resolve()
    if sys.platform == "win32":
        windowless = interpreter.with_name("pythonw.exe")
        if windowless.exists():
            interpreter = windowless
    main_script = Path(__file__).resolve().parent.parent / "main.py"
    return [str(interpreter), str(main_script), MINIMIZED_FLAG]


def set_start_at_login(enabled: bool) -> None:
    """Turn starting at login on (for this program's current location) or off."""
    if sys.platform == "win32":
        WindowsRunKey(_import_winreg()).set(enabled, launch_command())
    elif sys.platform.startswith("linux"):
        XdgAutostart(xdg_config_home()).set(enabled, launch_command())
    else:
        raise AutostartError(_unsupported_message())


def is_start_at_login() -> bool:
    """Whether LedgerBridge is set to start at login (False where that is not supported)."""
    if sys.platform == "win32":
        return WindowsRunKey(_import_winreg()).is_enabled()
    if sys.platform.startswith("linux"):
        return XdgAutostart(xdg_config_home()).is_enabled()
    return False


def _unsupported_message() -> str:
    return (
        f"Starting LedgerBridge at login is not supported on this system ({sys.platform}). "
        "Add LedgerBridge to your login items yourself (with the --minimized option), "
        "or start it from your applications menu."
    )


def _import_winreg() -> ModuleType:
    """The stdlib winreg module; a function so tests on Linux can hand in a stand-in."""
    import winreg

    return winreg


# --- Windows -----------------------------------------------------------------------------------------------


def windows_command_line(argv: list[str]) -> str:
    """Join arguments the way the Windows command line parser (CommandLineToArgvW) splits them back.

    The program is always in double quotes (a path cannot contain one), exactly like the installer's
    ``"{app}\\LedgerBridge.exe" --minimized``, so both write the same value and an unquoted path with
    spaces can never run the wrong program.
    """
    program, *arguments = argv
    parts = [f'"{program}"']
    for argument in arguments:
        if argument and not any(char in argument for char in ' \t"'):
            parts.append(argument)
            continue
        quoted, backslashes = ['"'], 0
        for char in argument:
            if char == "\\":
                backslashes += 1
            elif char == '"':
                quoted.append("\\" * (2 * backslashes + 1) + '"')
                backslashes = 0
            else:
                quoted.append("\\" * backslashes + char)
                backslashes = 0
        quoted.append("\\" * (2 * backslashes) + '"')
        parts.append("".join(quoted))
    return " ".join(parts)


class WindowsRunKey:
    """HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run, value "LedgerBridge" (per user, no admin)."""

    def __init__(self, winreg: ModuleType) -> None:
        self._winreg = winreg

    def set(self, enabled: bool, argv: list[str]) -> None:
        reg = self._winreg
        try:
            if enabled:
                with reg.CreateKeyEx(reg.HKEY_CURRENT_USER, RUN_KEY_PATH, 0, reg.KEY_SET_VALUE) as key:
                    reg.SetValueEx(key, RUN_VALUE_NAME, 0, reg.REG_SZ, windows_command_line(argv))
            else:
                # A missing value means it is already off: nothing to remove.
                with (
                    reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY_PATH, 0, reg.KEY_SET_VALUE) as key,
                    contextlib.suppress(FileNotFoundError),
                ):
                    reg.DeleteValue(key, RUN_VALUE_NAME)
        except FileNotFoundError:
            if enabled:
                raise AutostartError(
                    f"Windows has no HKEY_CURRENT_USER\\{RUN_KEY_PATH} key and would not create it. "
                    "Ask your IT administrator whether a policy blocks programs starting at login."
                ) from None
        except OSError as error:
            action = "turn on" if enabled else "turn off"
            raise AutostartError(
                f"Could not {action} starting LedgerBridge at login: Windows refused to change "
                f"HKEY_CURRENT_USER\\{RUN_KEY_PATH} ({error.strerror or error}). A group policy or security "
                "program may block it: ask your IT administrator, or start LedgerBridge from the Start menu."
            ) from None

    def is_enabled(self) -> bool:
        reg = self._winreg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, RUN_KEY_PATH, 0, reg.KEY_QUERY_VALUE) as key:
                value, _value_type = reg.QueryValueEx(key, RUN_VALUE_NAME)
        except OSError:  # FileNotFoundError: no such value (or key); others: unreadable, treat as off
            return False
        return bool(str(value).strip())


# --- Linux (XDG) -------------------------------------------------------------------------------------------


def xdg_config_home() -> Path:
    """$XDG_CONFIG_HOME, or ~/.config when it is unset or not absolute (as the Base Directory spec says)."""
    configured = os.environ.get("XDG_CONFIG_HOME", "")
    if configured and os.path.isabs(configured):
        return Path(configured)
    return Path.home() / ".config"


def desktop_exec_line(argv: list[str]) -> str:
    """The Exec value for ``argv``: quoted per the Desktop Entry spec, then escaped as a string value."""
    quoted_arguments = []
    for argument in argv:
        if argument and not any(char in _EXEC_RESERVED for char in argument):
            quoted = argument
        else:
            inner = "".join("\\" + char if char in _EXEC_QUOTED_ESCAPES else char for char in argument)
            quoted = f'"{inner}"'
        # A literal percent is written %% (field codes start with %).
        quoted_arguments.append(quoted.replace("%", "%%"))
    command = " ".join(quoted_arguments)
    # The string-value escape rule applies on top of the quoting rule: every backslash doubles.
    return command.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


class XdgAutostart:
    """$XDG_CONFIG_HOME/autostart/ledgerbridge.desktop, read by every XDG-compliant desktop at login."""

    def __init__(self, config_home: Path) -> None:
        self.entry_path = config_home / "autostart" / DESKTOP_FILE_NAME

    def set(self, enabled: bool, argv: list[str]) -> None:
        try:
            if enabled:
                self.entry_path.parent.mkdir(parents=True, exist_ok=True)
                temporary = self.entry_path.with_suffix(".desktop.tmp")
                temporary.write_text(self.entry_text(argv), encoding="utf-8")
                temporary.replace(self.entry_path)
            else:
                self.entry_path.unlink(missing_ok=True)
        except OSError as error:
            action = "turn on" if enabled else "turn off"
            raise AutostartError(
                f"Could not {action} starting LedgerBridge at login: {self.entry_path} could not be "
                f"{'written' if enabled else 'removed'} ({error.strerror or error}). Check that you own "
                f"{self.entry_path.parent} and that the disk is not full or read-only."
            ) from None

    @staticmethod
    def entry_text(argv: list[str]) -> str:
        return (
            "[Desktop Entry]\n"
            "Type=Application\n"
            "Name=LedgerBridge\n"
            "Comment=Keeps your books and HaloPSA in step (starts in the tray)\n"
            f"Exec={desktop_exec_line(argv)}\n"
            "Terminal=false\n"
            "X-GNOME-Autostart-enabled=true\n"
        )

    def is_enabled(self) -> bool:
        try:
            text = self.entry_path.read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            return False
        except OSError:
            return False
        entries = _desktop_entry_group(text)
        if entries.get("Hidden", "false").lower() == "true":
            return False
        return entries.get("X-GNOME-Autostart-enabled", "true").lower() != "false" and bool(
            entries.get("Exec")
        )


def _desktop_entry_group(text: str) -> dict[str, str]:
    """Key/value pairs of the [Desktop Entry] group (a user may have edited the file by hand)."""
    values: dict[str, str] = {}
    in_group = False
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            in_group = line == "[Desktop Entry]"
            continue
        if in_group and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values
