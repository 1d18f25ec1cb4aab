"""The checkpoint: what went where, kept across crashes, tied to one folder and one server."""

from __future__ import annotations

from pathlib import Path

import pytest

from docflow.client.checkpoint import Checkpoint, FileRecord, FileState
from docflow.client.errors import CheckpointMismatch
from docflow.client.keys import batch_key, file_key

URL = "http://docflow.example:8000"


def _record(rel: str, seq: int, sha: str = "ab" * 32) -> FileRecord:
    return FileRecord(rel, 10, 123, sha, file_key("scope", rel, sha), seq)


def test_records_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "cp.sqlite"
    cp = Checkpoint(path, tmp_path, URL)
    batch = cp.new_batch("scans part 1")
    cp.set_batch_id(batch.seq, "server-batch-1")
    cp.assign([_record("a.txt", batch.seq), _record("b.txt", batch.seq)], {batch.seq: 2})
    cp.mark_uploaded([("a.txt", "server-batch-1", "doc-a")])
    cp.mark_failed([("b.txt", "too_large", "Too big.")])
    session = cp.session_id
    cp.close()  # as good as a crash: every change was committed when made

    cp = Checkpoint(path, tmp_path, URL + "/")
    assert cp.session_id == session
    a, b = cp.get("a.txt"), cp.get("b.txt")
    assert a is not None and a.state == FileState.UPLOADED and a.document_id == "doc-a"
    assert b is not None and b.state == FileState.FAILED and b.error_code == "too_large"
    assert cp.get("missing.txt") is None
    last = cp.last_batch()
    assert last is not None and (last.batch_id, last.assigned) == ("server-batch-1", 2)
    assert cp.count(FileState.UPLOADED) == 1 and cp.batch_ids() == ["server-batch-1"]


def test_a_checkpoint_belongs_to_one_folder_and_server(tmp_path: Path) -> None:
    path = tmp_path / "cp.sqlite"
    Checkpoint(path, tmp_path, URL).close()
    with pytest.raises(CheckpointMismatch, match="pass another --checkpoint"):
        Checkpoint(path, tmp_path / "elsewhere", URL)
    with pytest.raises(CheckpointMismatch):
        Checkpoint(path, tmp_path, "http://other:8000")


def test_batch_ids_list_our_batches_then_any_a_file_landed_in(tmp_path: Path) -> None:
    cp = Checkpoint(tmp_path / "cp.sqlite", tmp_path, URL)
    for n in (1, 2):
        cp.set_batch_id(cp.new_batch(f"part {n}").seq, f"ours-{n}")
    cp.new_batch("part 3")  # never created on the server: not listed
    cp.assign([_record("x", 1)], {1: 1})
    cp.mark_uploaded([("x", "from-an-earlier-upload", "doc-x")])
    assert cp.batch_ids() == ["ours-1", "ours-2", "from-an-earlier-upload"]


def test_keys_depend_on_place_path_and_content() -> None:
    sha, other = "ab" * 32, "cd" * 32
    key = file_key("host:/data", "a/b.pdf", sha)
    assert key == file_key("host:/data", "a/b.pdf", sha)
    assert len({key, file_key("host:/data", "a/c.pdf", sha), file_key("other:/data",
               "a/b.pdf", sha), file_key("host:/data", "a/b.pdf", other)}) == 4
    assert len(key) <= 200 and key.replace("-", "").isalnum()
    assert batch_key("s1", 3) != batch_key("s1", 4)
