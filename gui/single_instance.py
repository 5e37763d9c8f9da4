"""One LedgerBridge window per user and configuration: a second launch hands over to the first.

Why: the app lives in the tray and starts at login, so people double-click it again when they cannot see it.
Two copies would fight over the sync lock and show two tray icons. The first copy listens on a local socket
(QLocalServer: a named pipe on Windows, a Unix socket elsewhere); a later copy connects, says "show", exits.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger("ledgerbridge.gui.single_instance")

SHOW_COMMAND = b"show\n"
CONNECT_TIMEOUT_MS = 1000


def server_name(config_path: Path | str, user: str | None = None) -> str:
    """A name unique to this user and settings file (two users on one terminal server do not collide)."""
    who = user if user is not None else _current_user()
    digest = hashlib.sha256(f"{who}\0{Path(config_path).resolve()}".encode()).hexdigest()[:20]
    return f"LedgerBridge-{digest}"


def _current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment (rare service accounts): still one per machine
        return "unknown-user"


class SingleInstance(QObject):
    """``acquire()`` True: we are the first copy and listen; False: another copy was told to show itself."""

    show_requested = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._server: QLocalServer | None = None
        self._connections: list[QLocalSocket] = []

    def acquire(self) -> bool:
        if self._tell_running_instance():
            return False
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            # A socket left by a copy that crashed (Unix) blocks the name: nobody answered, so remove it.
            QLocalServer.removeServer(self.name)
            if not server.listen(self.name):
                log.warning("Could not listen for other copies (%s); continuing alone.", server.errorString())
                return True
        server.newConnection.connect(self._on_new_connection)
        self._server = server
        return True

    def release(self) -> None:
        """Stop listening and drop any connection still open (on quit, or at the end of a test)."""
        for connection in self._connections:
            connection.readyRead.disconnect(self._on_ready_read)
            connection.abort()
        self._connections.clear()
        if self._server is not None:
            self._server.newConnection.disconnect(self._on_new_connection)
            self._server.close()
            self._server.deleteLater()
            self._server = None

    def _tell_running_instance(self) -> bool:
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
            return False
        socket.write(SHOW_COMMAND)
        socket.flush()
        socket.waitForBytesWritten(CONNECT_TIMEOUT_MS)
        socket.disconnectFromServer()
        if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            socket.waitForDisconnected(CONNECT_TIMEOUT_MS)
        return True

    @Slot()
    def _on_new_connection(self) -> None:
        server = self._server
        if server is None:
            return
        while server.hasPendingConnections():
            connection = server.nextPendingConnection()
            self._connections.append(connection)
            connection.readyRead.connect(self._on_ready_read)
            self._read(connection)

    @Slot()
    def _on_ready_read(self) -> None:
        connection = self.sender()
        if isinstance(connection, QLocalSocket):
            self._read(connection)

    def _read(self, connection: QLocalSocket) -> None:
        if not connection.bytesAvailable():
            return
        data = bytes(connection.readAll().data())
        if SHOW_COMMAND.strip() in data:
            log.info("Another copy of LedgerBridge was started; showing this one instead.")
            self.show_requested.emit()
        if connection in self._connections:
            self._connections.remove(connection)
        connection.readyRead.disconnect(self._on_ready_read)
        connection.disconnectFromServer()
        connection.deleteLater()
