"""Small drawn widgets the pages share (QtCharts is not in PySide6-Essentials, so they use QPainter)."""
