"""bench/text_recall.py: the word recall it reports, and a clean skip without the datasets."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.text_recall import recall, words

REPO = Path(__file__).resolve().parents[2]


def test_words_are_normalised_the_same_way_in_both_texts() -> None:
    assert words("The ﬁle, THE File") == Counter({"the": 2, "file": 2})  # NFKC ligature, case
    assert words("docu-\nment and docu\u00adment") == Counter({"document": 2, "and": 1})
    assert words("1,234.50 EUR or 1234.50 eur") == Counter({"123450": 2, "eur": 2, "or": 1})
    assert words("a b 7 x9") == Counter({"x9": 1})  # one-character tokens say nothing
    assert words("state-of-the-art") == Counter({"state": 1, "of": 1, "the": 1, "art": 1})


def test_recall_counts_each_word_at_most_as_often_as_docflow_has_it() -> None:
    reference = words("total total total amount due")
    assert recall(reference, words("Total amount due")) == 3 / 5
    assert recall(reference, words("total total total total amount due extra")) == 1.0
    assert recall(reference, Counter()) == 0.0
    assert recall(Counter(), words("anything")) == 1.0


def test_without_the_datasets_it_says_so_and_exits_0(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "text_recall.py"), "--datasets",
         str(tmp_path / "absent")], capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "nothing to measure (skipped)" in done.stdout


def test_a_format_whose_reference_tool_is_missing_is_skipped_and_said(tmp_path: Path) -> None:
    from tests.fixtures import make_pdf

    folder = tmp_path / "datasets" / "mixed_formats"
    folder.mkdir(parents=True)
    (folder / "memo.pdf").write_bytes(make_pdf(["A memo about the quarterly numbers."]))
    body = " ".join(f"word{n}" for n in range(30))
    (folder / "page.html").write_text(f"<html><head><title>T</title></head><p>{body}</p></html>")
    no_tools = tmp_path / "bin"
    no_tools.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": str(no_tools), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "text_recall.py"), "--datasets",
         str(tmp_path / "datasets")], capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "pdftotext is not installed: pdftotext files are not scored" in done.stdout
    assert "missing pdftotext 1" in done.stdout
    # the HTML page, and the ZIP and TAR.GZ the bench makes of both files, are scored
    assert "over 3 files with >= 20 reference words: met (1.000)" in done.stdout
