"""The Windows .ico made from resources/icons/app.svg at build time, so the SVG stays the only source.

Each size is rendered by QtSvg (crisp at 16 px, not a scaled-down 256) and stored as PNG inside the ICO
container, which Windows has read since Vista. The container is written here rather than through Qt's ico
plugin because that plugin writes one image per file, and Explorer wants several sizes.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

ICON_SIZES = (16, 20, 24, 32, 40, 48, 64, 128, 256)


def render_png_sizes(svg_path: Path, sizes: tuple[int, ...] = ICON_SIZES) -> dict[int, bytes]:
    """PNG bytes of the SVG rendered square at each size (a headless Qt GUI app is made if none exists)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg_path))
    if not renderer.isValid():
        raise ValueError(
            f"{svg_path} is not an SVG that Qt can draw; open it in a browser to see what is wrong"
        )
    pngs: dict[int, bytes] = {}
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not image.save(buffer, "PNG"):
            raise RuntimeError("Qt could not encode a PNG: check that PySide6 is installed completely")
        buffer.close()
        pngs[size] = bytes(data.data())
    return pngs


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """An ICO container (ICONDIR + one ICONDIRENTRY per image + the PNG data), smallest size first."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))  # reserved, type 1 = icon, image count
    offset = len(header) + 16 * len(sizes)
    entries, images = [], []
    for size in sizes:
        if not 1 <= size <= 256:
            raise ValueError(f"ICO images are 1..256 px, not {size}")
        data = pngs[size]
        dimension = 0 if size == 256 else size  # 0 means 256 in the one-byte width/height fields
        entries.append(struct.pack("<BBBBHHII", dimension, dimension, 0, 0, 1, 32, len(data), offset))
        images.append(data)
        offset += len(data)
    return header + b"".join(entries) + b"".join(images)


def write_ico(svg_path: Path, ico_path: Path, sizes: tuple[int, ...] = ICON_SIZES) -> Path:
    ico_path.parent.mkdir(parents=True, exist_ok=True)
    ico_path.write_bytes(ico_bytes(render_png_sizes(svg_path, sizes)))
    return ico_path
