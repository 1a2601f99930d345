"""The video a request names: a multipart upload (field `file`), streamed into a private spool
directory and cut off at the size limit (413) as it arrives, or JSON `{"path": ...}` naming a file
under an allowed root. A spooled file is removed when its request, or the job it was handed to, ends."""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from vidsim.decode import VIDEO_EXTENSIONS
from vidsim.errors import VidsimError
from vidsim.serve.roots import AllowedRoots

JSON_LIMIT = 64 << 10  # bytes of a JSON body
FORM_OVERHEAD = 1 << 20  # multipart bytes beyond the file allowed (boundaries, headers, small fields)
FIELD_LIMIT = 4 << 10  # bytes of a form field other than the file

# the request bodies every video-taking endpoint documents in its OpenAPI schema
VIDEO_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "the video"}}}},
    "application/json": {"schema": {"type": "object", "required": ["path"], "properties": {
        "path": {"type": "string", "description": "absolute path of a file under an allowed root (--allow-root)"}},
        "additionalProperties": False}},
}}}


class TooLarge(VidsimError):
    """An upload over the size limit (413)."""


class BadBody(VidsimError):
    """A body that names no video: malformed multipart or JSON, no `file` field (422)."""


class UnsupportedMedia(VidsimError):
    """A body that is neither multipart/form-data nor JSON (415)."""


@dataclass
class Received:
    """A video a request named: `path` to read it from, `label` to name it in answers (the upload's
    file name, or the path as given), `spooled` when `path` is a private copy to remove."""

    path: Path
    label: str
    spooled: bool

    def discard(self) -> None:
        if self.spooled:
            self.path.unlink(missing_ok=True)

    def name_in(self, message: str) -> str:
        """`message` with the spooled file's name replaced by the label (no server path leaks out)."""
        return message.replace(str(self.path), self.label) if self.spooled else message


class Spool:
    """A private directory (mode 0700) for uploads, removed with everything in it by `close`."""

    def __init__(self, parent: Path | None = None):
        self.directory = Path(tempfile.mkdtemp(prefix="vidsim-serve-", dir=parent))

    def new_file(self, name: str) -> tuple[int, Path]:
        """A new file (mode 0600, opened for writing), named after the upload's suffix when it is a
        video suffix (never a feature file's: an upload is always read as video)."""
        suffix = PurePosixPath(name).suffix.lower()
        fd, path = tempfile.mkstemp(prefix="upload-", suffix=suffix if suffix in VIDEO_EXTENSIONS else ".video",
                                    dir=self.directory)
        return fd, Path(path)

    def files(self) -> list[Path]:
        return sorted(self.directory.iterdir()) if self.directory.is_dir() else []

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


async def receive_video(request: Request, spool: Spool, roots: AllowedRoots, limit: int) -> Received:
    """The video of a request (see the module docstring); TooLarge, BadBody, UnsupportedMedia,
    roots.PathForbidden / PathInvalid for what is wrong with it."""
    kind, params = parse_options_header(request.headers.get("content-type"))
    if kind == b"multipart/form-data":
        boundary = params.get(b"boundary")
        if not boundary:
            raise BadBody("multipart body without a boundary")
        _check_length(request, limit + FORM_OVERHEAD, f"upload over the {_mb(limit)} limit (--max-upload-mb)")
        return await _spool_upload(request, spool, boundary, limit)
    if kind in (b"application/json", b""):
        _check_length(request, JSON_LIMIT, f"JSON body over {JSON_LIMIT >> 10} KB")
        return received_path(roots, _path_field(await _read_json(request)))
    raise UnsupportedMedia(f"content type {kind.decode('latin-1')!r}: send multipart/form-data with a `file` "
                           'field, or application/json {"path": ...}')


def received_path(roots: AllowedRoots, given: str) -> Received:
    """The video a client names by path (resolved under the allowed roots, or PathForbidden / PathInvalid)."""
    return Received(roots.resolve(given), given, False)


def _check_length(request: Request, limit: int, message: str) -> None:
    length = request.headers.get("content-length")
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise TooLarge(message)


def _mb(size: int) -> str:
    return f"{size / (1 << 20):g} MB"


async def _read_json(request: Request) -> Any:
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > JSON_LIMIT:
                raise TooLarge(f"JSON body over {JSON_LIMIT >> 10} KB")
    except ClientDisconnect:
        raise BadBody("the client went away before the body was sent") from None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise BadBody('the body is not JSON; send {"path": "/absolute/path/of/a/video"} or a multipart upload') from None


def _path_field(data: Any) -> str:
    if not isinstance(data, dict) or not isinstance(data.get("path"), str):
        raise BadBody('JSON body without a "path" string; send {"path": "/absolute/path/of/a/video"}')
    extra = sorted(set(data) - {"path"})
    if extra:
        raise BadBody(f"JSON body with unknown fields: {', '.join(map(str, extra))} (only \"path\"; top_k and "
                      "candidates are query parameters)")
    return data["path"]


def upload_name(filename: str | None) -> str:
    """The file name an upload was sent with, as answers show it: its last path part, printable, short."""
    name = PureWindowsPath(PurePosixPath(filename or "").name).name
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()[:200]
    return name or "upload"


class _Form:
    """State of one streamed multipart body: the current part's headers, the spooled file."""

    def __init__(self, spool: Spool, limit: int):
        self.spool, self.limit = spool, limit
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: dict[bytes, bytes] = {}
        self.fd: int | None = None
        self.path: Path | None = None
        self.name: str | None = None
        self.in_file = False
        self.size = 0
        self.field_bytes = 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.headers.clear()
        if disposition != b"form-data" or options.get(b"name") != b"file":
            return  # another field: read and left out
        if self.path is not None:
            raise BadBody("more than one `file` field; send one video per request")
        filename = options.get(b"filename")
        self.name = upload_name(filename.decode("utf-8", "replace") if filename is not None else None)
        self.fd, self.path = self.spool.new_file(self.name)
        self.in_file = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_file:
            self.field_bytes += end - start
            if self.field_bytes > FIELD_LIMIT:
                raise BadBody(f"form fields besides `file` over {FIELD_LIMIT >> 10} KB")
            return
        self.size += end - start
        if self.size > self.limit:
            raise TooLarge(f"upload over the {_mb(self.limit)} limit (--max-upload-mb)")
        assert self.fd is not None
        view = memoryview(data)[start:end]
        while view:
            view = view[os.write(self.fd, view):]

    def on_part_end(self) -> None:
        if self.in_file:
            self.in_file = False
            self._close_fd()

    def _close_fd(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)

    def abandon(self) -> None:
        self._close_fd()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def _spool_upload(request: Request, spool: Spool, boundary: bytes, limit: int) -> Received:
    form = _Form(spool, limit)
    parser = MultipartParser(boundary, {
        "on_header_field": form.on_header_field, "on_header_value": form.on_header_value,
        "on_header_end": form.on_header_end, "on_headers_finished": form.on_headers_finished,
        "on_part_data": form.on_part_data, "on_part_end": form.on_part_end})
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if form.in_file:
            raise BadBody("the multipart body ends inside the `file` field")
        if form.path is None or form.name is None:
            raise BadBody("multipart body without a `file` field (the video)")
        return Received(form.path, form.name, True)
    except (MultipartParseError, ValueError) as exc:
        form.abandon()
        raise BadBody(f"malformed multipart body ({exc})") from None
    except ClientDisconnect:
        form.abandon()
        raise BadBody("the client went away before the upload was complete") from None
    except BaseException:
        form.abandon()
        raise
