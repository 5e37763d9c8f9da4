"""The main window's tabs: Status, History, Problems, Mappings, Settings, Log."""
