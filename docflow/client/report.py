"""What an upload leaves behind: the summary on screen and the batch ids file (JSON)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from docflow.client.errors import ClientError
from docflow.client.progress import MB, format_seconds
from docflow.client.uploader import UploadSummary

FAILURES_SHOWN = 20


def print_summary(console: Console, summary: UploadSummary, batch_ids_out: Path) -> None:
    table = Table(title="upload summary", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("total files", f"{summary.found:,}")
    table.add_row("uploaded", f"{summary.uploaded:,}")
    table.add_row("skipped, already uploaded", f"{summary.already_uploaded:,}")
    table.add_row("failed", f"{summary.failed:,}")
    table.add_row("time elapsed", format_elapsed(summary.elapsed))
    table.add_row("upload rate", f"{summary.files_per_second:,.1f} files/s, "
                  f"{summary.mb_per_second:,.2f} MB/s")
    table.add_row("sent", f"{summary.sent_files:,} files, {summary.sent_bytes / MB:,.1f} MB")
    if summary.retries:
        table.add_row("retried requests", f"{summary.retries:,}")
    table.add_row("batches", f"{len(summary.batch_ids):,}")
    console.print(table)
    console.print(f"Batch ids: {batch_ids_out} (follow them with `docflow monitor "
                  f"{batch_ids_out}`)")
    if summary.failures:
        failed = Table("file", "reason", "message", title=f"{summary.failed:,} files failed",
                       title_justify="left")
        for f in summary.failures[:FAILURES_SHOWN]:
            failed.add_row(f.path, f.code, f.message)
        console.print(failed)
        if summary.failed > FAILURES_SHOWN:
            console.print(f"… and {summary.failed - FAILURES_SHOWN:,} more, listed in "
                          f"{batch_ids_out}.")
        console.print("Rerun the same command to try the failed files again.")
    if summary.stopped:
        console.print(f"[red]Stopped early:[/] {summary.stopped}")
    elif summary.unaccounted:
        console.print(f"[red]The counts do not add up:[/] {summary.found:,} files found, but "
                      f"{summary.uploaded:,} uploaded + {summary.already_uploaded:,} already "
                      f"uploaded + {summary.failed:,} failed = "
                      f"{summary.found - summary.unaccounted:,}. This is a bug in docflow "
                      "upload; rerun the same command to send whatever is missing.")


def format_elapsed(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else format_seconds(seconds)


def write_batch_ids(path: Path, summary: UploadSummary, checkpoint: Path) -> None:
    """Written whole to a temporary file first, so a crash never leaves half a file."""
    body: dict[str, Any] = {
        "url": summary.url,
        "directory": summary.directory,
        "checkpoint": str(checkpoint),
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "batch_ids": summary.batch_ids,
        "summary": {
            "total_files": summary.found, "uploaded": summary.uploaded,
            "already_uploaded": summary.already_uploaded, "failed": summary.failed,
            "elapsed_s": round(summary.elapsed, 2),
            "files_per_s": round(summary.files_per_second, 2),
            "mb_per_s": round(summary.mb_per_second, 2), "stopped": summary.stopped},
        "failed": [vars(f) for f in summary.failures],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n")
    os.replace(tmp, path)


def read_batch_ids(path: Path) -> tuple[list[str], str | None]:
    """The batch ids and server URL from a batch ids file (or a plain JSON list of ids)."""
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ClientError(f"Cannot read batch ids from {path}: {exc}", "bad_batch_ids") from exc
    if isinstance(body, list):
        ids, url = body, None
    elif isinstance(body, dict) and isinstance(body.get("batch_ids"), list):
        ids, url = body["batch_ids"], body.get("url")
    else:
        raise ClientError(f"{path} holds no batch ids: expected a list, or an object with "
                          "\"batch_ids\".", "bad_batch_ids")
    return [str(i) for i in ids], url
