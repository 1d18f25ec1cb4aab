"""A language model configured in the settings types documents on the worker: a real HTTP
server on a local port stands in for Ollama and for an OpenAI-compatible API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from docflow.config import Settings
from docflow.store import Document, DocumentStatus, Store
from docflow.store import documents as docs
from docflow.store.document_types import save_type
from docflow.worker import runtime as runtime_module
from docflow.worker import tasks
from docflow.worker.classifier import ClassifierCache
from tests.conftest import put
from tests.fake_llm import FakeModelServer

LETTER = b"Dear Ms Smith,\nThank you for your visit last week.\nYours sincerely,\nJohn"


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    fake = FakeModelServer()
    yield fake
    fake.close()


@pytest.fixture
def configure(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    """Set DOCFLOW_* variables the way an operator would, for the worker to read."""

    def _configure(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(f"DOCFLOW_{name.upper()}", value)
        runtime_module._current = None
        monkeypatch.setattr(tasks, "classifiers", ClassifierCache(refresh_seconds=0))

    yield _configure
    runtime_module._current = None


def _process(store: Store, content: bytes, name: str) -> Document:
    with store.db.write() as session:
        (doc,) = docs.register_documents(session, [put(store, content, name)])
        doc_id = doc.id
    tasks.process_document(doc_id)
    with store.db.read() as session:
        processed = session.get(Document, doc_id)
        assert processed is not None
        return processed


def test_ollama_types_the_document_and_the_document_says_so(store: Store, server, configure):
    with store.db.write() as session:
        save_type(session, "purchase_order", "An order to buy goods.", ["purchase order"], [])
    configure(llm_url=server.url, llm_model="llama3.2")
    doc = _process(store, LETTER, "visit.txt")
    assert doc.status == DocumentStatus.COMPLETED
    assert (doc.doc_type, doc.classifier, doc.model_version) == ("contract", "llm",
                                                                 "ollama:llama3.2")
    assert doc.doc_type_confidence == 0.92 and not doc.needs_review
    path, body, headers = server.requests[0]
    assert path == "/api/chat" and body["model"] == "llama3.2"
    assert "purchase_order: An order to buy goods." in body["messages"][0]["content"]
    assert "Authorization" not in headers


def test_an_openai_compatible_api_with_a_key(store: Store, server, configure):
    server.reply = {"doc_type": "letter", "confidence": 0.95}
    configure(llm_url=f"{server.url}/v1", llm_model="gpt-4o-mini", llm_api="openai",
              llm_api_key="sk-test-123")
    doc = _process(store, LETTER, "visit.txt")
    assert (doc.doc_type, doc.classifier, doc.model_version) == ("letter", "llm",
                                                                 "openai:gpt-4o-mini")
    path, body, headers = server.requests[0]
    assert path == "/v1/chat/completions" and body["model"] == "gpt-4o-mini"
    assert headers["Authorization"] == "Bearer sk-test-123"


def test_when_the_model_is_down_documents_still_complete(store: Store, server, configure,
                                                         caplog):
    server.status = 503
    configure(llm_url=server.url, llm_model="llama3.2")
    first = _process(store, LETTER, "one.txt")
    second = _process(store, LETTER.replace(b"John", b"Jane"), "two.txt")
    for doc in (first, second):
        assert doc.status == DocumentStatus.COMPLETED
        assert (doc.doc_type, doc.classifier) == ("letter", "keywords")
    assert len(server.requests) == 1  # a failed server is left alone for a while
    assert "language model gave no type" in caplog.text and "503" in caplog.text


def test_an_unreachable_model_is_not_an_error(store: Store, server, configure):
    url = server.url
    server.close()  # nothing listens on the port any more
    configure(llm_url=url, llm_model="llama3.2", llm_timeout="2")
    doc = _process(store, LETTER, "visit.txt")
    assert (doc.status, doc.doc_type, doc.classifier) == (DocumentStatus.COMPLETED, "letter",
                                                          "keywords")


def test_a_users_rule_still_decides_before_the_model(store: Store, server, configure):
    with store.db.write() as session:
        save_type(session, "purchase_order", "An order.", [],
                  [{"kind": "regex", "pattern": r"PO-\d{6}"}])
    configure(llm_url=server.url, llm_model="llama3.2")
    doc = _process(store, b"Please deliver the goods of PO-123456 by Friday.", "po.txt")
    assert (doc.doc_type, doc.classifier) == ("purchase_order", "user_rules")
    assert server.requests == []


def test_without_a_url_or_model_no_model_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCFLOW_LLM_URL", "http://127.0.0.1:11434")
    assert Settings().llm is None  # a URL without a model names nothing to ask
    monkeypatch.setenv("DOCFLOW_LLM_MODEL", "llama3.2")
    monkeypatch.setenv("DOCFLOW_LLM_API_KEY", "sk-secret")
    settings = Settings()
    assert settings.llm is not None and settings.llm.api_key == "sk-secret"
    assert settings.llm.api == "ollama" and settings.llm.timeout_s == 30.0
    assert "sk-secret" not in repr(settings) and "sk-secret" not in str(settings.model_dump())


def test_with_llm_fields_on_the_model_also_fills_in_missing_key_fields(store: Store, server,
                                                                      configure):
    from tests.pipeline.test_fields_llm import INVOICE

    def answer(body: dict) -> dict:
        if body["messages"][0]["content"].startswith("You classify documents"):
            return {"doc_type": "invoice", "confidence": 0.9}
        return {"invoice_number": "NW/2024/0815", "total": "EUR 1,190.00"}

    server.reply = answer
    configure(llm_url=server.url, llm_model="llama3.2")
    plain = _process(store, INVOICE.encode(), "inv.txt")
    assert len(server.requests) == 1 and "invoice_number" not in {f["name"] for f in
                                                                  plain.fields}
    configure(llm_url=server.url, llm_model="llama3.2", llm_fields="true")
    doc = _process(store, INVOICE.encode() + b"\n", "inv2.txt")
    assert (doc.doc_type, doc.classifier) == ("invoice", "llm") and len(server.requests) == 3
    fields = {f["name"]: f for f in doc.fields}
    assert fields["invoice_number"]["normalized"] == "NW/2024/0815"
    assert fields["total"]["normalized"] == "1190.00 EUR" and fields["total"]["confidence"] == 0.6
