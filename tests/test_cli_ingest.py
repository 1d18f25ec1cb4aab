"""`docflow ingest DIR`, run in this process without a broker (the documents stay queued): each
document keeps its path under DIR, so files of the same name in two folders stay apart."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from docflow.cli import app
from docflow.config import Settings
from docflow.store import Document, open_store


def test_ingest_keeps_each_files_path_under_the_folder(tmp_path: Path,
                                                       settings: Settings) -> None:
    corpus = tmp_path / "scans"
    for rel in ("2019/invoice.pdf", "2020/invoice.pdf", "2020/q1/note.txt", "top.txt"):
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        (corpus / rel).write_text(f"the file {rel}")
    done = CliRunner().invoke(app, ["ingest", str(corpus), "--data-dir",
                                    str(settings.data_dir)])
    assert done.exit_code == 0, done.output
    store = open_store(settings)
    try:
        with store.db.read() as session:
            rows = session.execute(select(Document.source_path, Document.filename)).all()
    finally:
        store.db.dispose()
    assert sorted(rows) == [("2019/invoice.pdf", "invoice.pdf"),
                            ("2020/invoice.pdf", "invoice.pdf"),
                            ("2020/q1/note.txt", "note.txt"), ("top.txt", "top.txt")]


def test_search_in_a_folder_without_docflow_data_says_where_it_looked(tmp_path: Path) -> None:
    nowhere = tmp_path / "not-a-data-dir"
    done = CliRunner().invoke(app, ["search", "invoice", "--data-dir", str(nowhere)])
    assert done.exit_code == 2, done.output
    assert "No docflow data in" in done.output and "--data-dir" in done.output
    assert not nowhere.exists()  # nothing was made on the spot
