"""A training-curve PNG drawn with the standard library (zlib + struct): no plotting dependency in a release.

Pure functions: points in, PNG bytes out. One panel per series (e.g. training loss above, the evaluation metric
below), each scaled to its own range with a light grid; the card's caption gives the numbers.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

BACKGROUND = (255, 255, 255)
GRID = (225, 228, 232)
FRAME = (120, 124, 130)
COLORS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40))


def png_bytes(pixels: list[bytearray], width: int, height: int) -> bytes:
    """Encode rows of RGB bytes as a PNG (8-bit truecolor, no filter)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(row) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _set(pixels: list[bytearray], x: int, y: int, color: tuple[int, int, int], thickness: int = 1) -> None:
    for dy in range(thickness):
        for dx in range(thickness):
            px, py = x + dx, y + dy
            if 0 <= py < len(pixels) and 0 <= px < len(pixels[0]) // 3:
                pixels[py][3 * px:3 * px + 3] = bytes(color)


def _line(pixels, start: tuple[int, int], end: tuple[int, int], color, thickness: int = 2) -> None:
    """Bresenham's line from `start` to `end`."""
    (x0, y0), (x1, y1) = start, end
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    error = dx + dy
    while True:
        _set(pixels, x0, y0, color, thickness)
        if (x0, y0) == (x1, y1):
            return
        twice = 2 * error
        if twice >= dy:
            error, x0 = error + dy, x0 + sx
        if twice <= dx:
            error, y0 = error + dx, y0 + sy


def _panel(pixels, box: tuple[int, int, int, int], points: Sequence[tuple[float, float]], x_range, color) -> None:
    """Frame, grid and polyline of `points` in `box` = (left, top, right, bottom); y scaled to the points' range."""
    left, top, right, bottom = box
    for i in range(1, 4):
        y = top + i * (bottom - top) // 4
        _line(pixels, (left, y), (right, y), GRID, 1)
    for corner_a, corner_b in (((left, top), (right, top)), ((right, top), (right, bottom)),
                               ((right, bottom), (left, bottom)), ((left, bottom), (left, top))):
        _line(pixels, corner_a, corner_b, FRAME, 1)
    ys = [y for _, y in points]
    low, high = min(ys), max(ys)
    span_y = (high - low) or 1.0
    (x_low, x_high), span_x = x_range, (x_range[1] - x_range[0]) or 1.0
    inner = [(left + 4 + round((x - x_low) / span_x * (right - left - 8)),
              bottom - 4 - round((y - low) / span_y * (bottom - top - 8))) for x, y in points]
    if len(inner) == 1:
        _set(pixels, inner[0][0] - 2, inner[0][1] - 2, color, 5)
    for a, b in zip(inner, inner[1:]):
        _line(pixels, a, b, color, 2)


def curve_png(series: Sequence[Sequence[tuple[float, float]]], width: int = 720, panel_height: int = 200) -> bytes:
    """One panel per non-empty series of `(step, value)` points, stacked, sharing the step axis; colors in order
    (blue, orange, ...). Raises `ValueError` when there is nothing to draw."""
    series = [list(points) for points in series if points]
    if not series:
        raise ValueError("A training curve needs at least one logged value.")
    margin = 12
    height = margin + len(series) * (panel_height + margin)
    pixels = [bytearray(bytes(BACKGROUND) * width) for _ in range(height)]
    steps = [x for points in series for x, _ in points]
    for index, points in enumerate(series):
        top = margin + index * (panel_height + margin)
        _panel(pixels, (margin, top, width - margin, top + panel_height), points, (min(steps), max(steps)),
               COLORS[index % len(COLORS)])
    return png_bytes(pixels, width, height)
