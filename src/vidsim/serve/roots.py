"""Allowed roots: a path a client names is resolved (every `..` and symlink followed) and must then
lie under one of the directories the service was started with."""
from __future__ import annotations

import errno
import os
from pathlib import Path

from vidsim.errors import VidsimError


class PathForbidden(VidsimError):
    """A path outside every allowed root (403)."""


class PathInvalid(VidsimError):
    """A path that cannot name a file here: relative, empty, with a NUL byte (422)."""


class AllowedRoots:
    def __init__(self, roots: tuple[Path, ...] | list[Path]):
        self.roots = tuple(Path(os.path.realpath(root)) for root in roots)

    def resolve(self, given: str) -> Path:
        """The real path of `given` (absolute) if it lies under an allowed root, else PathForbidden
        (also when nothing is there: whether a file exists outside the roots is not told); a missing
        file inside a root is returned, for its reader to report (404); a path the system cannot
        look at (a name too long, a symlink loop, no permission) is PathInvalid."""
        if not given or "\x00" in given:
            raise PathInvalid("path: give the absolute path of a file on the server")
        path = Path(given)
        if not path.is_absolute():
            raise PathInvalid(f"{given}: not an absolute path; give the absolute path of a file on the server")
        if not self.roots:
            raise PathForbidden(f"{given}: this server takes no paths (started without --allow-root); upload the file")
        try:
            real = Path(os.path.realpath(path))
        except (OSError, ValueError):
            raise PathForbidden(f"{given}: outside the allowed roots") from None
        if not any(real == root or real.is_relative_to(root) for root in self.roots):
            raise PathForbidden(f"{given}: outside the allowed roots")
        try:
            real.stat()
        except OSError as exc:  # a name too long, a symlink loop, no permission: 422, not a 500 later
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise PathInvalid(f"{given}: {os.strerror(exc.errno or errno.EINVAL).lower()}") from None
        return real

    def check_found(self, given: str, files: list[Path]) -> list[Path]:
        """The real paths of the files found under a directory that was allowed; PathForbidden if
        one of them (a symlink) leads outside every root."""
        out = []
        for file in files:
            real = Path(os.path.realpath(file))
            if not any(real.is_relative_to(root) for root in self.roots):
                raise PathForbidden(f"{given}: {file.name} leads outside the allowed roots")
            out.append(real)
        return out
