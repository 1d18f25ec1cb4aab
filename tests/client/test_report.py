"""What an upload says at the end: a run is a success only when every file found has an
outcome (uploaded, already uploaded or failed), and the summary says when they do not add up."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from docflow.client import UploadSummary
from docflow.client.commands import upload_exit_code
from docflow.client.report import print_summary


def _printed(summary: UploadSummary, tmp_path: Path) -> str:
    out = io.StringIO()
    print_summary(Console(file=out, width=200), summary, tmp_path / "batch_ids.json")
    return out.getvalue()


def test_a_run_whose_counts_add_up_is_a_success(tmp_path: Path) -> None:
    summary = UploadSummary("corpus", "http://docflow", found=5, uploaded=3,
                            already_uploaded=2)
    assert upload_exit_code(summary) == 0
    assert "do not add up" not in _printed(summary, tmp_path)


def test_a_run_whose_counts_do_not_add_up_is_not_a_success(tmp_path: Path) -> None:
    summary = UploadSummary("corpus", "http://docflow", found=5, uploaded=2,
                            already_uploaded=1, failed=0)
    assert upload_exit_code(summary) == 1
    text = _printed(summary, tmp_path)
    assert "The counts do not add up: 5 files found, but 2 uploaded + 1 already uploaded + " \
        "0 failed = 3." in text, text
    assert "rerun the same command" in text


def test_a_stopped_run_says_why_not_that_counts_are_off(tmp_path: Path) -> None:
    summary = UploadSummary("corpus", "http://docflow", found=5, uploaded=2,
                            stopped="docflow is unreachable")
    assert upload_exit_code(summary) == 1
    text = _printed(summary, tmp_path)
    assert "docflow is unreachable" in text and "do not add up" not in text
