"""The one CSV format the Mappings and Problems exports share."""

from __future__ import annotations

import csv

from gui.csv_export import write_csv


def test_utf8_with_bom_and_no_cell_starts_a_formula(tmp_path):
    target = tmp_path / "out.csv"
    write_csv(target, ["Key", "Name"], [["CAFE01", "Café Müller"], ["EVIL01", '=HYPERLINK("x")']])
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    with target.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["Key", "Name"], ["CAFE01", "Café Müller"], ["EVIL01", '\'=HYPERLINK("x")']]
