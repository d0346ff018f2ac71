"""Read the files of a Go `embed.FS` out of a statically linked Go ELF binary.

Theory of operation: the Go compiler lays an `embed.FS` out as a read-only
slice of `file` records, `{name string; data string; hash [16]byte}`, which on
64-bit targets are 48 bytes each: two (pointer, length) string headers and the
hash. Directories have a name ending in "/" and no data. The records are sorted
by directory, so every file of one embed directive sits in one contiguous run.

We find the name of a file we know is there (e.g. "assets/local/index.html") in
the binary, then the record whose name header points at it, and walk the
neighbouring records in both directions while they still look like records of
the same tree (names inside the image, starting with the same top directory).
Pointers are virtual addresses, mapped back to file offsets through the ELF
program headers. Nothing is executed and nothing but the binary is read.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

RECORD = struct.Struct("<QQQQ16s")  # name ptr, name len, data ptr, data len, hash
MAX_NAME = 4096


class EmbedError(Exception):
    """The binary is not a 64-bit little-endian ELF, or holds no such embedded tree."""


@dataclass(frozen=True)
class _Segment:
    offset: int
    vaddr: int
    size: int


class _Image:
    """Maps virtual addresses of a loaded ELF image to offsets in its file."""

    def __init__(self, data: mmap.mmap) -> None:
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise EmbedError("not a 64-bit little-endian ELF binary")
        phoff = struct.unpack_from("<Q", data, 0x20)[0]
        phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
        self.data = data
        self.segments = []
        for i in range(phnum):
            p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(
                "<IIQQQQ", data, phoff + i * phentsize
            )
            if p_type == 1:  # PT_LOAD
                self.segments.append(_Segment(p_offset, p_vaddr, p_filesz))

    def to_offset(self, vaddr: int, size: int) -> int | None:
        for s in self.segments:
            if s.vaddr <= vaddr and vaddr + size <= s.vaddr + s.size:
                return s.offset + vaddr - s.vaddr
        return None

    def to_vaddr(self, offset: int) -> int | None:
        for s in self.segments:
            if s.offset <= offset < s.offset + s.size:
                return s.vaddr + offset - s.offset
        return None

    def string(self, vaddr: int, size: int) -> bytes | None:
        offset = self.to_offset(vaddr, size)
        return None if offset is None else self.data[offset : offset + size]


def _record_name(image: _Image, at: int, top: bytes) -> bytes | None:
    """The name of the record at file offset `at`, if it looks like one of the tree under `top`."""
    if at < 0 or at + RECORD.size > len(image.data):
        return None
    name_ptr, name_len, _, data_len, _ = RECORD.unpack_from(image.data, at)
    if not 0 < name_len <= MAX_NAME:
        return None
    name = image.string(name_ptr, name_len)
    if name is None or not name.startswith(top):
        return None
    if name.endswith(b"/") and data_len != 0:  # directories carry no data
        return None
    return name


def _find_anchor(image: _Image, anchor: bytes) -> int:
    """File offset of the record whose name is `anchor`."""
    start = 0
    while (found := image.data.find(anchor, start)) >= 0:
        start = found + 1
        vaddr = image.to_vaddr(found)
        if vaddr is None:
            continue
        at = image.data.find(struct.pack("<QQ", vaddr, len(anchor)))
        while at >= 0:
            if at % 8 == 0:
                return at
            at = image.data.find(struct.pack("<QQ", vaddr, len(anchor)), at + 1)
    raise EmbedError(f"no embedded file named {anchor.decode()}")


def read_tree(binary: Path, anchor: str) -> Iterator[tuple[str, bytes]]:
    """Yield (name, content) for every file of the embedded tree that holds `anchor`.

    `anchor` is the full embedded name of a file known to be in the tree; the
    tree is every record whose name shares its first path component.
    """
    top = anchor.split("/", 1)[0].encode() + b"/"
    with binary.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        image = _Image(data)
        first = _find_anchor(image, anchor.encode())
        while _record_name(image, first - RECORD.size, top) is not None:
            first -= RECORD.size
        at = first
        while (name := _record_name(image, at, top)) is not None:
            _, _, data_ptr, data_len, _ = RECORD.unpack_from(data, at)
            at += RECORD.size
            if name.endswith(b"/"):
                continue
            content = image.string(data_ptr, data_len) if data_len else b""
            if content is None:
                raise EmbedError(f"embedded file {name.decode()} points outside the image")
            yield name.decode(), content
