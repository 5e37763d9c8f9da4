"""Icons drawn as SVG in resources/icons, loaded the same way from a checkout and a frozen bundle."""

from __future__ import annotations

from PySide6.QtGui import QIcon

from resources import resource_path

TRAY_ICON_FILES = {
    "idle": "tray-idle.svg",
    "syncing": "tray-syncing.svg",
    "attention": "tray-attention.svg",
    "paused": "tray-paused.svg",
}


def tray_icon(state: str) -> QIcon:
    """The tray icon for a state ("idle", "syncing", "attention", "paused")."""
    return QIcon(str(resource_path("icons", TRAY_ICON_FILES[state])))


def app_icon() -> QIcon:
    """The window/app icon (resources/icons/app.svg, from the installer); the idle icon if missing."""
    path = resource_path("icons", "app.svg")
    if path.exists():
        return QIcon(str(path))
    return tray_icon("idle")
