"""Qt only: the thin desktop layer over ``sync`` (wizard, main window, tray, worker thread)."""
