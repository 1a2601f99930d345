"""Read the files inside a Qt resource (`.rcc`) file: GCompris ships its photos in them.

The format (Qt's `rcc` tool, versions 1-3): a 20-byte header (`qres`, version, offsets of the
tree, the data and the names), a tree of 14-byte (version 1) or 22-byte entries (directories:
child count and first child; files: data offset), names as UTF-16 with a length and a hash, and
each file's bytes after a 4-byte length, zlib-compressed (flag 1, after a 4-byte size) or raw.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from vidsim.errors import ConfigError

_COMPRESSED, _DIRECTORY, _ZSTD = 0x01, 0x02, 0x04


@dataclass(frozen=True)
class RccEntry:
    """One file of a resource: its path (`gcompris/src/...`), where its bytes start and how many."""

    path: str
    offset: int
    length: int
    flags: int

    @property
    def compressed(self) -> bool:
        return bool(self.flags & (_COMPRESSED | _ZSTD))


def rcc_entries(buf: bytes, source: str = "rcc") -> list[RccEntry]:
    """Every file of a resource, in tree order; `ConfigError` naming `source` when it is not one."""
    if len(buf) < 20 or buf[:4] != b"qres":
        raise ConfigError(f"{source}: not a Qt resource file (no 'qres' header)")
    _, version, tree, data, names = struct.unpack(">4sIIII", buf[:20])
    if version not in (1, 2, 3):
        raise ConfigError(f"{source}: Qt resource version {version} is not supported (1-3)")
    size = 14 if version == 1 else 22
    out: list[RccEntry] = []

    def name_at(offset: int) -> str:
        (n,) = struct.unpack_from(">H", buf, names + offset)
        return buf[names + offset + 6: names + offset + 6 + 2 * n].decode("utf-16-be")

    try:
        stack = [(0, "")]
        while stack:
            index, prefix = stack.pop()
            name_offset, flags = struct.unpack_from(">IH", buf, tree + index * size)
            name = name_at(name_offset) if index else ""
            if flags & _DIRECTORY:
                count, first = struct.unpack_from(">II", buf, tree + index * size + 6)
                path = f"{prefix}{name}/" if index else ""
                stack.extend((child, path) for child in reversed(range(first, first + count)))
            else:
                (data_offset,) = struct.unpack_from(">I", buf, tree + index * size + 10)
                (length,) = struct.unpack_from(">I", buf, data + data_offset)
                out.append(RccEntry(prefix + name, data + data_offset + 4, length, flags))
    except (struct.error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: damaged Qt resource file ({exc})") from exc
    return out


def rcc_read(buf: bytes, entry: RccEntry, source: str = "rcc") -> bytes:
    """The bytes of one entry (zlib-compressed ones inflated; zstd ones are refused)."""
    raw = buf[entry.offset: entry.offset + entry.length]
    if entry.flags & _ZSTD:
        raise ConfigError(f"{source}: {entry.path} is zstd-compressed, which vidsim does not read")
    if entry.flags & _COMPRESSED:
        try:
            return zlib.decompress(raw[4:])
        except zlib.error as exc:
            raise ConfigError(f"{source}: {entry.path}: {exc}") from exc
    return raw
