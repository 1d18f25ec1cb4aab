"""`docflow upload` and `docflow monitor` (and scripts/batch_upload_500k.py) call these."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import re
import resource
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.table import Table

from docflow.client.api import DocflowApi, ListedDocument
from docflow.client.checkpoint import Checkpoint
from docflow.client.errors import ClientError
from docflow.client.monitor import MonitorView, batch_table, follow_batches, monitor_display
from docflow.client.progress import upload_display
from docflow.client.report import print_summary, read_batch_ids, write_batch_ids
from docflow.client.uploader import Uploader, UploadOptions, UploadSummary

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8000"
BATCH_ROWS_SHOWN = 30


def default_checkpoint(directory: Path, url: str) -> Path:
    """One checkpoint per folder and server, in the current directory."""
    root = directory.resolve()
    digest = hashlib.sha256(f"{root}\0{url.rstrip('/')}".encode()).hexdigest()[:10]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", root.name)[:40] or "root"
    return Path.cwd() / f".docflow-upload-{slug}-{digest}.sqlite"


def run_upload(options: UploadOptions, console: Console, *, monitor: bool = False,
               quiet: bool = False) -> int:
    """Upload a folder; 0 when every file is on the server, 1 when some failed, the run
    stopped early or the counts do not add up, 2 when it could not start, 130 when
    interrupted."""
    checkpoint_path = options.checkpoint or default_checkpoint(options.directory, options.url)
    try:
        checkpoint = Checkpoint(checkpoint_path, options.directory, options.url)
    except ClientError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    # Each file of each request in flight is an open file.
    _raise_open_files_limit(options.concurrency * options.request_files + 256)
    if not quiet:
        console.print(f"uploading {options.directory.resolve()} to {options.url} "
                      f"(checkpoint {checkpoint_path})")
    display = upload_display(console, quiet)
    uploader: Uploader | None = None
    interrupted = False

    async def upload() -> UploadSummary:
        nonlocal uploader
        api = DocflowApi(options.url, token=options.token, timeout=options.timeout,
                         connections=options.concurrency, policy=options.retry)
        uploader = Uploader(options, checkpoint, api, display)
        display.start()
        try:
            return await uploader.run()
        finally:
            display.stop()
            await api.aclose()

    try:
        summary = asyncio.run(upload())
    except KeyboardInterrupt:
        interrupted = True
        if uploader is None:
            return 130
        summary = uploader.summary
        summary.stopped = "interrupted (Ctrl-C); rerun the same command to resume"
    finally:
        checkpoint.close()
    write_batch_ids(options.batch_ids_out, summary, checkpoint_path)
    print_summary(console, summary, options.batch_ids_out)
    if interrupted:
        return 130
    code = upload_exit_code(summary)
    if monitor and summary.batch_ids and not summary.stopped:
        code = max(code, _follow(summary.batch_ids, options.url, options.token, console,
                                 quiet=quiet))
    return code


def upload_exit_code(summary: UploadSummary) -> int:
    """0 only when every file found is on the server: uploaded now, or already before."""
    return 1 if summary.failed or summary.stopped or summary.unaccounted else 0


def run_monitor(batch_ids_file: Path, console: Console, *, url: str | None = None,
                token: str | None = None, interval: float = 2.0,
                timeout: float | None = None, quiet: bool = False) -> int:
    """Follow the batches of a batch ids file until done; 0 when done, 1 on a timeout."""
    try:
        ids, file_url = read_batch_ids(batch_ids_file)
    except ClientError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    if not ids:
        console.print(f"{batch_ids_file} lists no batches.")
        return 0
    return _follow(ids, url or file_url or DEFAULT_URL, token, console, interval=interval,
                   timeout=timeout, quiet=quiet)


def _follow(batch_ids: list[str], url: str, token: str | None, console: Console, *,
            interval: float = 2.0, timeout: float | None = None, quiet: bool = False) -> int:
    async def follow() -> MonitorView:
        api = DocflowApi(url, token=token, timeout=30.0)
        try:
            return await follow_batches(api, batch_ids, display=monitor_display(console, quiet),
                                        interval=interval, timeout=timeout)
        finally:
            await api.aclose()

    try:
        view = asyncio.run(follow())
    except KeyboardInterrupt:
        console.print("[yellow]Stopped following[/]; processing goes on on the server.")
        return 130
    states = [view.states[b] for b in view.batch_ids if b in view.states]
    if len(states) <= BATCH_ROWS_SHOWN:
        console.print(batch_table(states, title="batches"))
    elif notable := [s for s in states if s.failed or not s.done]:
        console.print(batch_table(notable[:BATCH_ROWS_SHOWN], title=f"{len(notable):,} of "
                                  f"{len(states):,} batches have failures or are unfinished"))
        if len(notable) > BATCH_ROWS_SHOWN:
            console.print(f"… and {len(notable) - BATCH_ROWS_SHOWN:,} more")
    if view.timed_out:
        console.print(f"[yellow]Gave up waiting after {view.elapsed:.0f}s[/]; run "
                      "`docflow monitor` again to keep following.")
        return 1
    console.print(f"all {len(view.batch_ids)} batches done in {view.elapsed:.0f}s: "
                  f"{view.finished:,} documents, {view.percent:.1f}%")
    return 0


def _raise_open_files_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def run_list_documents(url: str, token: str | None, console: Console, *, order: str,
                       limit: int | None, as_json: bool,
                       **filters: str | bool | None) -> int:
    """Print the server's documents that match, page after page by cursor (`limit`: at most
    that many; None: all); 0 when listed, 2 when the server could not be asked."""

    def each(doc: ListedDocument) -> None:
        if as_json:  # one JSON object a line, as each page arrives
            sys.stdout.write(json.dumps(dataclasses.asdict(doc)) + "\n")

    try:
        found = _collect(url, token, lambda api: api.documents(
            order=order, page_size=min(limit or 500, 500), **filters), limit, each)
    except ClientError as exc:
        console.print(f"[red]{exc}[/]", highlight=False)
        return 2
    if not as_json:
        table = Table("document", "path", "status", "type", "reason", "added",
                      title=f"{len(found):,} documents")
        for d in found:
            reason = f"{d.error_code}: {d.error_message}" if d.error_code else \
                ("needs review" if d.needs_review else "")
            table.add_row(d.id, d.source_path or d.filename, d.status, d.doc_type or "",
                          reason, d.created_at)
        console.print(table)
    return 0


def run_list_batches(url: str, token: str | None, console: Console, *,
                     limit: int | None) -> int:
    """Print the server's batches, newest first, page after page by cursor."""

    try:
        found = _collect(url, token, lambda api: api.batches(page_size=min(limit or 100, 100)),
                         limit)
    except ClientError as exc:
        console.print(f"[red]{exc}[/]", highlight=False)
        return 2
    table = Table("batch", "name", "created", "documents", "done %", "failed",
                  title=f"{len(found):,} batches")
    for b in found:
        table.add_row(b.batch_id, b.name or "", b.created_at, f"{b.progress.total:,}",
                      f"{b.progress.progress_percent}", f"{b.progress.failed:,}")
    console.print(table)
    return 0


def _collect(url: str, token: str | None, walk: Callable[[DocflowApi], AsyncIterator[T]],
             limit: int | None, each: Callable[[T], None] | None = None) -> list[T]:
    """What `walk` yields from the server, page after page, up to `limit` (None: all);
    `each` sees every row as it arrives."""

    async def rows() -> list[T]:
        api = DocflowApi(url, token=token)
        found: list[T] = []
        try:
            async for row in walk(api):
                if each is not None:
                    each(row)
                found.append(row)
                if limit is not None and len(found) >= limit:
                    break
        finally:
            await api.aclose()
        return found

    return asyncio.run(rows())
