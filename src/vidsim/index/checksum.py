"""Self-checking files: a SHA-256 of the whole file, stored in its own header.

The digest is taken over the file's bytes with the checksum's 64 hex digits written as zeros,
so a file carries its checksum without a second file or a trailer; a header field of fixed
width is filled in after the rest is hashed. Both the codes files (a safetensors metadata entry)
and the vector snapshot (its JSON header) use it.
"""
from __future__ import annotations

import hashlib
from typing import IO

FIELD = "checksum"
PLACEHOLDER = "0" * 64  # what the digest is computed with in place of itself
_CHUNK = 1 << 20


def placeholder_at(blob: bytes, key: bytes) -> int:
    """Offset in `blob` of the placeholder digits that follow `key` (e.g. b'"checksum":"')."""
    at = blob.find(key + PLACEHOLDER.encode())
    if at < 0 or blob.find(key + PLACEHOLDER.encode(), at + 1) >= 0:
        raise ValueError("the checksum placeholder must occur exactly once")
    return at + len(key)


def seal(blob: bytes, key: bytes) -> tuple[bytes, str]:
    """`blob` (holding the placeholder once, after `key`) with its checksum filled in, and the checksum."""
    at = placeholder_at(blob, key)
    digest = hashlib.sha256(blob).hexdigest()
    return blob[:at] + digest.encode() + blob[at + len(PLACEHOLDER):], digest


def neutral(header: bytes, key: bytes, stored: str) -> bytes:
    """`header` with the stored digest after `key` put back to the placeholder (to hash it again)."""
    marked = key + stored.encode()
    at = header.find(marked)
    if at < 0:
        raise ValueError("the checksum is not where the header says")
    at += len(key)
    return header[:at] + PLACEHOLDER.encode() + header[at + len(stored):]


def is_digest(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def hash_rest(digest: hashlib._Hash, fh: IO[bytes]) -> None:
    """Feed what is left of `fh` into `digest`."""
    while chunk := fh.read(_CHUNK):
        digest.update(chunk)
