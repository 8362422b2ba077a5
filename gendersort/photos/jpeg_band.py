"""A JPEG's first rows alone: the file with a smaller height in its frame header decodes to its top band.

A reduced (DCT-scaled) decode of a large JPEG costs mostly the reading of its entropy-coded data, which
runs row after row, and the same at any scale: a second, finer decode of a 12-megapixel photo for one small
face costs nearly as much as the first. Told that the image ends below the face, the decoder stops there
and passes over the rest of the data without decoding it, and the rows it gives are those of the whole
decode (but the last, see MARGIN_MCUS).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import BinaryIO

SOI = b"\xff\xd8"
# Frames whose scans the decoder reads down to the height, then skips to the next marker: baseline,
# extended and progressive Huffman-coded JPEG (arithmetic-coded and lossless ones are decoded whole).
BAND_FRAMES = frozenset({0xC0, 0xC1, 0xC2})
# The other start-of-frame markers (0xC4, 0xC8 and 0xCC, among them, are not frames).
OTHER_FRAMES = frozenset(range(0xC3, 0xD0)) - {0xC4, 0xC8, 0xCC}
START_OF_SCAN = 0xDA
# Rows of MCUs decoded below the rows asked for: a band's last pixel row is smoothed (chroma upsampling)
# with nothing below it, the whole decode's with the row below (tests/test_pipeline.py fails without).
MARGIN_MCUS = 1


@dataclass(frozen=True)
class Frame:
    """The frame header of a JPEG file: where its height is written, the height, and the pixel rows of one
    row of MCUs (a band ends at the end of one)."""

    height_at: int
    height: int
    mcu_rows: int


def frame(file: BinaryIO) -> Frame | None:
    """The frame header of a JPEG file (read from its start, the segments before it skipped), or None where
    no band can be cut: another kind of frame, a height left to a later marker, markers that do not parse."""
    file.seek(0)
    if file.read(len(SOI)) != SOI:
        return None
    while len(marker := file.read(4)) == 4 and marker[0] == 0xFF:
        if marker[1] == 0xFF:  # a fill byte
            file.seek(-3, io.SEEK_CUR)
            continue
        length = int.from_bytes(marker[2:], "big")
        if length < 2:  # a length counts its own two bytes
            return None
        if marker[1] in BAND_FRAMES:
            at = file.tell()
            header = file.read(length - 2)
            components = header[5] if len(header) > 5 else 0
            if len(header) < 6 + 3 * components:
                return None
            vertical = max((header[7 + 3 * index] & 0x0F for index in range(components)), default=0)
            height = int.from_bytes(header[1:3], "big")
            return Frame(at + 1, height, 8 * vertical) if height and vertical else None
        if marker[1] in OTHER_FRAMES or marker[1] == START_OF_SCAN:
            return None
        file.seek(length - 2, io.SEEK_CUR)
    return None


def band_height(header: Frame, rows: float) -> int:
    """The height of the band that holds `rows` rows and MARGIN_MCUS rows of MCUs more, ending at the end
    of a row of MCUs; the whole height when the band would reach it."""
    mcus = math.ceil(max(rows, 0.0) / header.mcu_rows) + MARGIN_MCUS
    return min(mcus * header.mcu_rows, header.height)


class WithHeight:
    """A JPEG file read as if `height` were written in its frame header: the file's own bytes as they are
    read, the two of the height replaced (nothing held but what the decoder asks for)."""

    def __init__(self, file: BinaryIO, header: Frame, height: int) -> None:
        self.file, self.at, self.height = file, header.height_at, height.to_bytes(2, "big")

    def read(self, size: int = -1) -> bytes:
        start = self.file.tell()
        data = self.file.read(size)
        if start + len(data) <= self.at or start >= self.at + len(self.height):
            return data
        patched = bytearray(data)
        for offset, value in enumerate(self.height):
            if 0 <= self.at + offset - start < len(patched):
                patched[self.at + offset - start] = value
        return bytes(patched)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()
