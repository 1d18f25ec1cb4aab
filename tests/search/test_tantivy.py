"""What is particular to tantivy: one writer per index directory, readers in other processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from docflow.search import IndexLocked, SearchDocument, open_index


def doc(doc_id: str, text: str) -> SearchDocument:
    return SearchDocument(
        id=doc_id, filename=f"{doc_id}.txt", doc_type="letter", batch_id="b", text=text
    )


def test_a_second_indexer_is_refused_until_the_first_closes(tmp_path):
    first = open_index("tantivy", tmp_path, writer=True)
    with pytest.raises(IndexLocked):
        open_index("tantivy", tmp_path, writer=True)

    first.index([doc("1", "kept")])
    first.close()

    second = open_index("tantivy", tmp_path, writer=True)
    assert second.search("kept").total == 1
    second.close()


def test_an_api_started_before_the_indexer_finds_nothing_then_everything(tmp_path):
    api = open_index("tantivy", tmp_path / "not-yet", writer=False)
    assert api.count() == 0
    assert api.search("hello").total == 0

    indexer = open_index("tantivy", tmp_path / "not-yet", writer=True)
    indexer.index([doc("1", "hello world")])

    assert api.search("hello").total == 1
    api.close()
    indexer.close()


READER_SCRIPT = """
import pathlib, sys
from docflow.search import open_index
api = open_index("tantivy", pathlib.Path(sys.argv[1]), writer=False)
print(api.count(), [hit.id for hit in api.search(sys.argv[2]).hits])
"""


def test_a_reader_in_another_process_sees_committed_documents(tmp_path):
    indexer = open_index("tantivy", tmp_path, writer=True)
    indexer.index([doc("1", "plain"), doc("2", "zorblatt17 here")])

    out = subprocess.run(
        [sys.executable, "-c", READER_SCRIPT, str(tmp_path), "zorblatt17"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout

    assert out.strip() == "2 ['2']"
    indexer.close()
