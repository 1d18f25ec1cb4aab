"""A pool process forked from a warmed-up worker finds the classifier loaded and processes its
first document over a connection of its own."""

from __future__ import annotations

import json
import os

from docflow.config import Settings
from docflow.store import Document, DocumentStatus, Store
from docflow.store import documents as docs
from docflow.store.scope import DEFAULT_TENANT
from docflow.worker import results
from docflow.worker import runtime as runtime_module
from docflow.worker.runtime import runtime
from docflow.worker.tasks import process_document, warm_up
from tests.conftest import put


def test_a_pool_process_forked_after_the_warm_up_starts_with_the_classifier_loaded(
        settings: Settings, store: Store) -> None:
    runtime_module._current = None
    results.classifiers.clear()  # as in a worker that has not read a document yet
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(
            store, b"INVOICE 2024-77. Total due: $1,250.00 by 2024-04-30.", "inv.txt")])
    warm_up(runtime())
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # a pool process: what it inherited, then its first document
        code = 1
        try:
            os.close(read_end)
            loaded = results.classifiers.holds(DEFAULT_TENANT)
            outcome = process_document(doc.id)
            os.write(write_end, json.dumps({"loaded": loaded, "outcome": outcome}).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = json.loads(pipe.read() or b"{}")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report == {"loaded": True, "outcome": "processed"}
    with store.db.read() as session:
        row = session.get(Document, doc.id)
        assert row is not None and row.status == DocumentStatus.COMPLETED
        assert row.doc_type == "invoice"
