"""Multipart uploads streamed straight into the blob store, one chunk at a time.

Starlette's form parser keeps every part in a spooled temporary file until the request ends
(small files in memory), so 10,000 files would grow the server's memory. This parser hashes and
writes each part to disk as it arrives and keeps only names and digests. The files become
originals only once the whole request has arrived and passed its limits: a refused or broken
upload leaves nothing on disk.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from python_multipart.exceptions import FormParserError, MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from docflow.api.errors import ApiError
from docflow.store import BlobStore, BlobTooLarge
from docflow.store.blobs import BlobWriter
from docflow.store.documents import NewDocument

MAX_FIELD_BYTES = 4096
MAX_FORM_FIELDS = 100  # form fields besides the files (batch_name is the one read)
MAX_PART_HEADER_BYTES = 16 * 1024  # all of one part's headers together
MAX_BOUNDARY = 70  # RFC 2046: a boundary is 1 to 70 characters
IDEMPOTENCY_HEADER = b"idempotency-key"
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:\-]{1,200}$")
# Browsers and httpx write '"', CR and LF in a part's filename as %22, %0D and %0A (WHATWG form
# encoding) and leave "%" itself alone: only those three are escapes.
FORM_FILENAME_ESCAPES = re.compile(r"%(22|0D|0A)", re.IGNORECASE)


def form_filename(raw: bytes) -> str:
    """A part's filename as the sender's user named the file; it may hold the file's path in
    an uploaded folder ("2019/invoice.pdf"), kept as its source_path (store.documents)."""
    text = raw.decode("utf-8", "replace")
    return FORM_FILENAME_ESCAPES.sub(lambda m: chr(int(m.group(1), 16)), text)


class _HeldBlobs:
    """Stands in for the blob store while a request arrives: each finished file stays in the
    temp dir, held, and becomes an original (`adopt_all`) only once the request is accepted."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs, self.tmp_dir = blobs, blobs.tmp_dir
        self.held: list[tuple[Path, str]] = []

    def adopt(self, tmp: Path, sha256: str) -> None:
        self.held.append((tmp, sha256))

    def adopt_all(self) -> None:
        while self.held:
            tmp, sha256 = self.held[0]
            self.blobs.adopt(tmp, sha256)
            self.held.pop(0)

    def discard(self) -> None:
        for tmp, _ in self.held:
            tmp.unlink(missing_ok=True)
        self.held = []


@dataclass
class ReceivedForm:
    files: list[NewDocument] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


class _Receiver:
    def __init__(self, blobs: BlobStore, file_field: str, max_files: int,
                 max_file_bytes: int, keys: bool = False) -> None:
        self.held = _HeldBlobs(blobs)
        self.file_field, self.keys = file_field, keys
        self.max_files, self.max_file_bytes = max_files, max_file_bytes
        self.form = ReceivedForm()
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._header_bytes = 0
        self._writer: BlobWriter | None = None
        self._filename: str | None = None
        self._key: str | None = None
        self._field_name: str | None = None
        self._field_value = bytearray()
        self.ended = False  # the closing boundary arrived

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field_cb,
            "on_header_value": self._header_value_cb,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._header_bytes = 0
        self._writer, self._filename, self._field_name = None, None, None
        self._key = None
        self._field_value = bytearray()

    def _header_field_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]
        self._count_header_bytes(end - start)

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        self._count_header_bytes(end - start)

    def _count_header_bytes(self, count: int) -> None:
        self._header_bytes += count
        if self._header_bytes > MAX_PART_HEADER_BYTES:
            raise ApiError(422, "invalid_request", f"A part's headers are longer than "
                           f"{MAX_PART_HEADER_BYTES} bytes.")

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in params:
            if name != self.file_field:
                raise ApiError(422, "invalid_request", f"Send files in the field "
                               f"{self.file_field!r}, not {name!r}.")
            if len(self.form.files) >= self.max_files:
                raise ApiError(422, "too_many_files", f"A batch holds at most {self.max_files} "
                               "files; split the upload into several batches.")
            self._filename = form_filename(params[b"filename"])
            self._key = self._idempotency_key() if self.keys else None
            self._writer = BlobWriter(self.held, self.max_file_bytes)  # type: ignore[arg-type]
        else:
            if len(self.form.fields) >= MAX_FORM_FIELDS:
                raise ApiError(422, "invalid_request", f"A form holds at most "
                               f"{MAX_FORM_FIELDS} fields besides its files.")
            self._field_name = name

    def _idempotency_key(self) -> str | None:
        raw = self._headers.get(IDEMPOTENCY_HEADER)
        if raw is None:
            return None
        key = raw.decode("latin-1").strip()
        if not IDEMPOTENCY_KEY.fullmatch(key):
            raise ApiError(422, "invalid_idempotency_key", f"The Idempotency-Key of "
                           f"{self._filename!r} must be 1 to 200 letters, digits or . _ : -.")
        return key

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._writer is not None:
            try:
                self._writer.write(data[start:end])
            except BlobTooLarge as exc:
                self._writer = None
                raise ApiError(413, "too_large", f"{self._filename!r} is larger than the limit "
                               f"of {exc.limit} bytes.") from exc
        elif self._field_name is not None:
            self._field_value += data[start:end]
            if len(self._field_value) > MAX_FIELD_BYTES:
                raise ApiError(422, "invalid_request", f"Form field {self._field_name!r} is "
                               "too long.")

    def _part_end(self) -> None:
        if self._writer is not None:
            blob = self._writer.finish()
            self.form.files.append(NewDocument(filename=self._filename or "", blob=blob,
                                               idempotency_key=self._key))
            self._writer = None
        elif self._field_name is not None:
            self.form.fields[self._field_name] = self._field_value.decode("utf-8", "replace")

    def _end(self) -> None:
        self.ended = True

    def abort(self) -> None:
        """Remove every file this request wrote: the one arriving and those held."""
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        self.held.discard()


def _free_space_dirs(blobs: BlobStore) -> Iterator[Path]:
    yield blobs.tmp_dir
    root = getattr(blobs, "root", None)  # a local store's originals; a bucket has no disk
    if isinstance(root, Path):
        yield root


def check_free_space(blobs: BlobStore, min_free_bytes: int, incoming: int = 0) -> None:
    """Refuse (507) an upload that would leave less than `min_free_bytes` free where it is
    written, before a byte of it is."""
    if min_free_bytes <= 0:
        return
    for folder in _free_space_dirs(blobs):
        free = shutil.disk_usage(folder).free
        if free - incoming < min_free_bytes:
            raise ApiError(507, "insufficient_storage", f"The server is short of disk space "
                           f"({free // 2**20} MiB free, {min_free_bytes // 2**20} MiB kept "
                           "free): nothing was stored. Try again once space has been freed.")


async def receive_files(request: Request, blobs: BlobStore, *, file_field: str,
                        max_files: int, max_file_bytes: int, keys: bool = False,
                        min_free_bytes: int = 0) -> ReceivedForm:
    """Stream each file part to disk; store them as originals once the whole request arrived
    within its limits (else nothing stays on disk). With `keys`, a part's `Idempotency-Key`
    header is kept with its file."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ApiError(422, "invalid_request", "Send the files as multipart/form-data.")
    if len(boundary) > MAX_BOUNDARY:
        raise ApiError(422, "invalid_request", f"The multipart boundary is {len(boundary)} "
                       f"characters long; at most {MAX_BOUNDARY} are allowed (RFC 2046).")
    length = request.headers.get("content-length")
    incoming = int(length) if length and length.isdigit() and len(length) < 20 else 0
    # One file cannot be larger than the whole request: refuse before reading a byte.
    if max_files == 1 and incoming > max_file_bytes + 65536:
        raise ApiError(413, "too_large", f"The upload is larger than the limit of "
                       f"{max_file_bytes} bytes.")
    await run_in_threadpool(check_free_space, blobs, min_free_bytes, incoming)
    receiver = _Receiver(blobs, file_field, max_files, max_file_bytes, keys)
    parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            if chunk:
                await run_in_threadpool(parser.write, chunk)
        parser.finalize()
        if not receiver.ended:
            raise MultipartParseError("the body ended before its closing boundary")
    except (MultipartParseError, FormParserError) as exc:
        receiver.abort()
        raise ApiError(422, "invalid_request", f"The multipart body is malformed: {exc}") from exc
    except ClientDisconnect as exc:
        # Nobody reads this answer; it keeps a dropped connection out of the error log.
        receiver.abort()
        raise ApiError(400, "incomplete_upload", "The connection closed before the upload "
                       "was complete; no document was made from it.") from exc
    except BaseException:
        receiver.abort()
        raise
    if not receiver.form.files:
        receiver.abort()
        raise ApiError(422, "no_files", f"Send at least one file in the field {file_field!r}.")
    try:
        await run_in_threadpool(receiver.held.adopt_all)
    except BaseException:
        receiver.abort()
        raise
    return receiver.form
