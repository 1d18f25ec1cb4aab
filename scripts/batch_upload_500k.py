#!/usr/bin/env python3
"""Upload a folder of documents (500,000 is fine) to docflow, as in the original guide.

    python scripts/batch_upload_500k.py DIR --batch-size 1000 --monitor
    python scripts/batch_upload_500k.py --monitor-only batch_ids.json

A thin entry point onto `docflow upload` / `docflow monitor` (docflow.client): the same
progress bar, checkpoint (rerun to resume), retries and summary.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from docflow.client import (
    DEFAULT_URL,
    MAX_CONCURRENCY,
    UploadOptions,
    run_monitor,
    run_upload,
)


def _whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an int from `low` to `high`, as `docflow upload` accepts."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{value} is not {span}")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", type=Path, help="folder to upload")
    parser.add_argument("--monitor-only", type=Path, metavar="BATCH_IDS_JSON",
                        help="only follow the batches listed in this file")
    parser.add_argument("--url", default=os.environ.get("DOCFLOW_URL"),
                        help=f"docflow server (default {DEFAULT_URL}; with --monitor-only, "
                        "the one in the file)")
    parser.add_argument("--token", default=os.environ.get("DOCFLOW_TOKEN"),
                        help="sent as Authorization: Bearer TOKEN")
    parser.add_argument("--batch-size", type=_whole_number(1), default=1000,
                        help="files per batch")
    parser.add_argument("--concurrency", type=_whole_number(1, MAX_CONCURRENCY), default=8,
                        help=f"requests in flight (1 to {MAX_CONCURRENCY})")
    parser.add_argument("--monitor", action="store_true",
                        help="after uploading, follow processing until done")
    parser.add_argument("--checkpoint", type=Path, help="checkpoint file (to resume)")
    parser.add_argument("--batch-ids-out", "--output", type=Path,
                        default=Path("batch_ids.json"), help="where to write the batch ids")
    parser.add_argument("--include", action="append", default=[], help="glob to upload only")
    parser.add_argument("--exclude", action="append", default=[], help="glob to skip")
    args = parser.parse_args(argv)
    console = Console()
    if args.monitor_only is not None:
        return run_monitor(args.monitor_only, console, url=args.url, token=args.token)
    if args.directory is None or not args.directory.is_dir():
        parser.error("give a folder to upload, or --monitor-only BATCH_IDS_JSON")
    options = UploadOptions(directory=args.directory, url=args.url or DEFAULT_URL,
                            token=args.token,
                            batch_size=args.batch_size, concurrency=args.concurrency,
                            checkpoint=args.checkpoint, batch_ids_out=args.batch_ids_out,
                            include=tuple(args.include), exclude=tuple(args.exclude))
    return run_upload(options, console, monitor=args.monitor)


if __name__ == "__main__":
    sys.exit(main())
