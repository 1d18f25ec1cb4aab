"""Uploading a folder: walk it lazily, hash, group files into batches and requests, send them
with a few requests in flight, and record every answer in the checkpoint.

    walk (thread) -> plan: skip / hash / record a batch -> queue -> N senders -> checkpoint

A file already uploaded (same path, size and mtime in the checkpoint) is skipped unread. Every
other file carries an idempotency key, so whatever reached the server before a crash or a lost
response comes back as the document it already is, never as a second one.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from docflow.client.api import DocflowApi, Limits, Part, Placed
from docflow.client.checkpoint import BatchRecord, Checkpoint, FileRecord, FileState
from docflow.client.errors import (
    ClientError,
    RequestFailed,
    ServerUnreachable,
    TransportFailed,
    UnexpectedAnswer,
    UnreadableFile,
)
from docflow.client.keys import batch_key, file_key, sha256_file
from docflow.client.progress import MB, UploadDisplay
from docflow.client.retry import RetryPolicy
from docflow.client.walk import Counter, FileFilter, LocalFile, take, walk_files

WALK_CHUNK = 256
HASH_CHUNK_BYTES = 64 * MB
MAX_FAILURES_KEPT = 10_000
MAX_CONCURRENCY = 64  # requests in flight that `docflow upload` and the script accept
UNREACHABLE_IN_A_ROW = 3  # requests that exhausted their retries before the run stops
# Answers that one file of a request of many may cause (500: the server failed on it, after
# every retry): each file is then sent alone, so only that one fails.
SPLIT_STATUSES = (400, 413, 422, 500)


@dataclass
class UploadOptions:
    directory: Path
    url: str = "http://127.0.0.1:8000"
    token: str | None = None
    batch_size: int = 1000
    concurrency: int = 8
    checkpoint: Path | None = None  # default: see default_checkpoint()
    batch_ids_out: Path = Path("batch_ids.json")
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    batch_name: str | None = None  # batches are named "<name> part <n>"; default: the folder
    request_files: int = 50  # files per request, at most
    request_bytes: int = 32 * MB  # bytes per request, roughly (one bigger file goes alone)
    timeout: float = 120.0  # seconds without progress on one request
    retry: RetryPolicy = RetryPolicy()  # for each request run_upload sends


@dataclass(frozen=True)
class Failure:
    path: str
    code: str
    message: str


@dataclass
class UploadSummary:
    directory: str
    url: str
    found: int = 0  # files under the folder that match the filters
    uploaded: int = 0  # new documents made by this run
    already_uploaded: int = 0  # skipped: the checkpoint or the server had them
    failed: int = 0
    sent_files: int = 0  # files whose bytes went over the wire and were confirmed
    sent_bytes: int = 0
    retries: int = 0
    elapsed: float = 0.0
    batch_ids: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)  # the first MAX_FAILURES_KEPT
    stopped: str | None = None  # why the run ended before the last file

    @property
    def unaccounted(self) -> int:
        """Files found with no outcome: those a stopped run never reached, else a bug."""
        return self.found - self.uploaded - self.already_uploaded - self.failed

    @property
    def files_per_second(self) -> float:
        return self.sent_files / self.elapsed if self.elapsed else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.sent_bytes / MB / self.elapsed if self.elapsed else 0.0


@dataclass
class _Request:
    batch_seq: int
    items: list[tuple[LocalFile, FileRecord]] = field(default_factory=list)
    nbytes: int = 0


class Uploader:
    def __init__(self, options: UploadOptions, checkpoint: Checkpoint, api: DocflowApi,
                 display: UploadDisplay | None = None) -> None:
        self.options, self.checkpoint, self.api = options, checkpoint, api
        self.display = display or UploadDisplay()
        self.root = options.directory.resolve()
        self.summary = UploadSummary(directory=str(self.root), url=api.url)
        skip = {str(checkpoint.path.resolve()), str(options.batch_ids_out.resolve())}
        skip |= {p + suffix for p in set(skip) for suffix in ("-wal", "-shm", "-journal")}
        self.filter = FileFilter(tuple(options.include), tuple(options.exclude),
                                 frozenset(skip))
        self.limits = Limits(options.batch_size, 2**62)
        self._batch_ids: dict[int, str] = {}
        self._unfilled: deque[BatchRecord] = deque()
        self._current: BatchRecord | None = None
        self._current_count = 0
        self._unreachable_in_a_row = 0

    async def run(self) -> UploadSummary:
        started = time.monotonic()
        self.api.on_retry = self._retried
        counter = Counter(self.root, self.filter, self.display.set_total)
        try:
            self.limits = await self._limits()
            self._unfilled = deque(self.checkpoint.unfilled_batches(self._batch_size))
            counter.start()
            queue: asyncio.Queue[_Request | None] = asyncio.Queue(self.options.concurrency)
            async with asyncio.TaskGroup() as group:
                group.create_task(self._plan(queue))
                for _ in range(self.options.concurrency):
                    group.create_task(self._send_all(queue))
        except* ClientError as stopped:
            self.summary.stopped = str(stopped.exceptions[0])
        finally:
            counter.stop()
            self.summary.elapsed = time.monotonic() - started
            self.summary.batch_ids = self.checkpoint.batch_ids()
        return self.summary

    async def _limits(self) -> Limits:
        try:
            limits = await self.api.limits()
        except TransportFailed as exc:
            raise ServerUnreachable(f"Cannot reach docflow at {self.api.url}: {exc}") from exc
        except RequestFailed as exc:
            raise ClientError(f"{self.api.url} does not answer as a docflow server with batch "
                              f"uploads (GET /api/limits: {exc.status} {exc}).",
                              "not_docflow") from exc
        if self.options.batch_size > limits.max_files_per_batch:
            self.display.note(f"The server takes at most {limits.max_files_per_batch} files "
                              "per batch; using that as the batch size.")
        return limits

    def _retried(self, _retry: int, _why: str, _wait: float) -> None:
        self.summary.retries += 1
        self.display.retried()

    # Planning: which files to send, in which batch and request.
    async def _plan(self, queue: asyncio.Queue[_Request | None]) -> None:
        files = walk_files(self.root, self.filter, on_error=self._walk_error)
        open_requests: dict[int, _Request] = {}
        while chunk := await asyncio.to_thread(take, files, WALK_CHUNK):
            ready = await self._plan_chunk(chunk)
            # Recorded before anything is sent: a rerun after a crash sends each planned file to
            # the batch it was planned for, so no batch is left short.
            new_in_batch: dict[int, int] = {}
            for _, record, new in ready:
                if new:
                    new_in_batch[record.batch_seq] = new_in_batch.get(record.batch_seq, 0) + 1
            self.checkpoint.assign([record for _, record, _ in ready], new_in_batch)
            for local, record, _ in ready:
                request = open_requests.setdefault(record.batch_seq, _Request(record.batch_seq))
                request.items.append((local, record))
                request.nbytes += local.size
                if (len(request.items) >= self.options.request_files
                        or request.nbytes >= self.options.request_bytes):
                    await self._enqueue(open_requests.pop(record.batch_seq), queue)
            # A batch that takes no more files sends its last few now, not after the walk.
            current = self._current.seq if self._current is not None else None
            for seq in [seq for seq in open_requests if seq != current]:
                await self._enqueue(open_requests.pop(seq), queue)
        for request in open_requests.values():
            await self._enqueue(request, queue)
        for _ in range(self.options.concurrency):
            await queue.put(None)

    async def _plan_chunk(self, chunk: list[LocalFile]
                          ) -> list[tuple[LocalFile, FileRecord, bool]]:
        """Each file to send, with its checkpoint record and whether it is new to its batch."""
        ready: list[tuple[LocalFile, FileRecord, bool]] = []
        to_hash: list[tuple[LocalFile, FileRecord | None]] = []
        for local in chunk:
            self.summary.found += 1
            record = self.checkpoint.get(local.rel)
            if record is not None and (record.size, record.mtime_ns) == (local.size,
                                                                         local.mtime_ns):
                if record.state == FileState.UPLOADED:
                    self._already(1)
                else:  # pending or failed before: same batch, same key
                    ready.append((local, record, False))
            elif local.size > self.limits.max_file_bytes:
                self._fail_unsent(local.rel, "too_large", f"The file is {local.size:,} bytes; "
                                  f"the server takes at most {self.limits.max_file_bytes:,}.")
            else:
                to_hash.append((local, record))
        for group in _by_bytes(to_hash, HASH_CHUNK_BYTES):
            digests = await asyncio.to_thread(_hash_all, [local for local, _ in group])
            for (local, old), digest in zip(group, digests, strict=True):
                if isinstance(digest, OSError):
                    self._fail_unsent(local.rel, UnreadableFile.code,
                                      UnreadableFile(local.rel, digest).message)
                elif old is not None and old.sha256 == digest:  # touched, not changed
                    self.checkpoint.touch(local.rel, local.size, local.mtime_ns)
                    if old.state == FileState.UPLOADED:
                        self._already(1)
                    else:
                        ready.append((local, old, False))
                else:
                    record = FileRecord(local.rel, local.size, local.mtime_ns, digest,
                                        file_key(self.checkpoint.scope, local.rel, digest),
                                        self._next_batch_seq())
                    ready.append((local, record, True))
        return ready

    @property
    def _batch_size(self) -> int:
        return max(1, min(self.options.batch_size, self.limits.max_files_per_batch))

    def _next_batch_seq(self) -> int:
        """The batch for the next new file: the earliest one not yet full, else a new one."""
        while self._current is None or self._current_count >= self._batch_size:
            if self._unfilled:
                self._current = self._unfilled.popleft()
                self._current_count = self._current.assigned
                continue
            last = self.checkpoint.last_batch()
            seq = (last.seq + 1) if last else 1
            name = f"{self.options.batch_name or self.root.name} part {seq}"
            self._current, self._current_count = self.checkpoint.new_batch(name), 0
        self._current_count += 1
        return self._current.seq

    async def _enqueue(self, request: _Request, queue: asyncio.Queue[_Request | None]) -> None:
        await self._batch_id(request.batch_seq)
        await queue.put(request)

    async def _batch_id(self, seq: int) -> str:
        if seq not in self._batch_ids:
            batch = self.checkpoint.batch(seq)
            if batch.batch_id is None:
                try:
                    batch_id = await self.api.create_batch(
                        batch.name, batch_key(self.checkpoint.session_id, seq))
                except TransportFailed as exc:
                    raise ServerUnreachable(f"Could not create a batch on {self.api.url}: "
                                            f"{exc}") from exc
                self.checkpoint.set_batch_id(seq, batch_id)
                batch.batch_id = batch_id
            self._batch_ids[seq] = batch.batch_id
        return self._batch_ids[seq]

    # Sending.
    async def _send_all(self, queue: asyncio.Queue[_Request | None]) -> None:
        while (request := await queue.get()) is not None:
            await self._deliver(self._batch_ids[request.batch_seq], request.items)

    async def _deliver(self, batch_id: str, items: list[tuple[LocalFile, FileRecord]]) -> None:
        parts = [Part(local.rel, local.path, record.key, local.size) for local, record in items]
        try:
            placed = await self.api.append(batch_id, parts)
        except UnreadableFile as exc:
            self._fail([i for i in items if i[0].rel == exc.rel], exc.code, exc.message)
            rest = [i for i in items if i[0].rel != exc.rel]
            if rest:
                await self._deliver(batch_id, rest)
            return
        except (TransportFailed, UnexpectedAnswer) as exc:
            self._fail(items, exc.code, exc.message)
            self._count_unreachable(exc)
            return
        except RequestFailed as exc:
            if exc.status in SPLIT_STATUSES and len(items) > 1 and exc.code != "batch_full":
                # One file may be to blame: send each alone, so only that one fails.
                for item in items:
                    await self._deliver(batch_id, [item])
                return
            self._fail(items, exc.code, exc.message)
            if exc.status >= 500:
                self._count_unreachable(exc)
            return
        self._unreachable_in_a_row = 0
        self._record(items, placed)

    def _count_unreachable(self, exc: ClientError) -> None:
        self._unreachable_in_a_row += 1
        if self._unreachable_in_a_row >= UNREACHABLE_IN_A_ROW:
            raise ServerUnreachable(f"{self._unreachable_in_a_row} requests in a row got no "
                                    f"good answer from {self.api.url} (last: {exc}). Rerun the "
                                    "same command to resume.")

    def _record(self, items: list[tuple[LocalFile, FileRecord]], placed: list[Placed]) -> None:
        by_key = {p.key: p for p in placed}
        confirmed: list[tuple[str, str | None, str]] = []
        missing: list[tuple[LocalFile, FileRecord]] = []
        created = sent_bytes = 0
        for local, record in items:
            answer = by_key.get(record.key)
            if answer is None:
                missing.append((local, record))
                continue
            confirmed.append((local.rel, answer.batch_id, answer.document_id))
            created += answer.created
            sent_bytes += local.size
        self.checkpoint.mark_uploaded(confirmed)
        self.summary.uploaded += created
        self.summary.already_uploaded += len(confirmed) - created
        self.summary.sent_files += len(confirmed)
        self.summary.sent_bytes += sent_bytes
        self.display.advance(len(confirmed), sent_bytes)
        if missing:
            self._fail(missing, "no_answer", "The server's answer did not mention this file.")

    # Counting outcomes.
    def _already(self, n: int) -> None:
        self.summary.already_uploaded += n
        self.display.advance(n)

    def _fail(self, items: list[tuple[LocalFile, FileRecord]], code: str, message: str) -> None:
        self.checkpoint.mark_failed((local.rel, code, message) for local, _ in items)
        for local, _ in items:
            self._fail_unsent(local.rel, code, message)

    def _fail_unsent(self, rel: str, code: str, message: str) -> None:
        self.summary.failed += 1
        if len(self.summary.failures) < MAX_FAILURES_KEPT:
            self.summary.failures.append(Failure(rel, code, message))
        self.display.advance(1)

    def _walk_error(self, rel: str, exc: OSError) -> None:
        # Called from the walking thread while the event loop waits for it. An entry that could
        # not be read (a symlink loop, a folder that cannot be listed) is one found and failed.
        self.summary.found += 1
        self.summary.failed += 1
        if len(self.summary.failures) < MAX_FAILURES_KEPT:
            self.summary.failures.append(Failure(rel, "unreadable", f"Could not read it: "
                                                 f"{exc.strerror or exc}."))


def _by_bytes(items: list[tuple[LocalFile, FileRecord | None]],
              limit: int) -> list[list[tuple[LocalFile, FileRecord | None]]]:
    """Consecutive groups of about `limit` bytes: hashing starts sending early on big files."""
    groups: list[list[tuple[LocalFile, FileRecord | None]]] = []
    size = limit
    for item in items:
        if size >= limit:
            groups.append([])
            size = 0
        groups[-1].append(item)
        size += item[0].size
    return groups


def _hash_all(files: list[LocalFile]) -> list[str | OSError]:
    out: list[str | OSError] = []
    for local in files:
        try:
            out.append(sha256_file(local.path))
        except OSError as exc:
            out.append(exc)
    return out
