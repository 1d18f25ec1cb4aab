"""A configured language model is asked for the type; a fake local server stands in for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from docflow.pipeline.classify import (
    DEFAULT_DOC_TYPES,
    DocumentClassifier,
    LlmApi,
    LlmClassifier,
    LlmSettings,
)
from tests.fake_llm import FakeModelServer

LETTER = "Dear Ms Smith,\nThank you for your visit last week.\nYours sincerely,\nJohn"


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    fake = FakeModelServer()
    yield fake
    fake.close()


def test_ollama_is_asked_for_json_with_every_type_listed(server: FakeModelServer) -> None:
    llm = LlmClassifier(DEFAULT_DOC_TYPES, LlmSettings(server.url, "llama3.2"))
    result = llm.classify("This agreement is made between A and B.")
    assert (result.doc_type, result.confidence, result.decider) == ("contract", 0.92, "llm")
    assert result.model_version == "ollama:llama3.2"
    path, body, _ = server.requests[0]
    assert path == "/api/chat"
    assert body["format"] == "json" and body["stream"] is False
    system = body["messages"][0]["content"]
    assert all(doc_type.name in system for doc_type in DEFAULT_DOC_TYPES)
    assert body["messages"][1]["content"].startswith("This agreement")


def test_an_openai_compatible_server_works_too(server: FakeModelServer) -> None:
    settings = LlmSettings(f"{server.url}/v1", "gpt-4o-mini", api=LlmApi.OPENAI, api_key="sk-1")
    result = LlmClassifier(DEFAULT_DOC_TYPES, settings).classify("Agreement ...")
    assert result.doc_type == "contract"
    path, body, headers = server.requests[0]
    assert path == "/v1/chat/completions"
    assert body["response_format"] == {"type": "json_object"}
    assert headers["Authorization"] == "Bearer sk-1"


@pytest.mark.parametrize(
    "reply",
    ["not json at all", {"doc_type": "spaceship", "confidence": 0.9}, ["contract"], {}],
)
def test_an_unusable_answer_gives_no_verdict(server: FakeModelServer, reply: object) -> None:
    server.reply = reply
    llm = LlmClassifier(DEFAULT_DOC_TYPES, LlmSettings(server.url, "m"))
    assert llm.classify("text") is None
    assert llm.last_error


def test_a_missing_confidence_gets_the_configured_default(server: FakeModelServer) -> None:
    server.reply = {"doc_type": "Scientific Paper"}
    settings = LlmSettings(server.url, "m", default_confidence=0.7)
    result = LlmClassifier(DEFAULT_DOC_TYPES, settings).classify("Abstract. We propose ...")
    assert (result.doc_type, result.confidence) == ("scientific_paper", 0.7)


def test_when_the_model_is_down_the_next_decider_answers(server: FakeModelServer) -> None:
    server.status = 503
    llm = LlmClassifier(DEFAULT_DOC_TYPES, LlmSettings(server.url, "m", timeout_s=5))
    result = DocumentClassifier(llm=llm).classify(LETTER)
    assert (result.doc_type, result.decider) == ("letter", "keywords")
    assert "503" in llm.last_error


def test_an_unreachable_server_is_not_an_error() -> None:
    llm = LlmClassifier(DEFAULT_DOC_TYPES, LlmSettings("http://127.0.0.1:9", "m", timeout_s=2))
    assert llm.classify(LETTER) is None


def test_the_llm_is_asked_before_zero_shot_and_keywords(server: FakeModelServer) -> None:
    server.reply = {"doc_type": "report", "confidence": 0.8}
    llm = LlmClassifier(DEFAULT_DOC_TYPES, LlmSettings(server.url, "m"))
    result = DocumentClassifier(llm=llm).classify(LETTER)
    assert (result.doc_type, result.decider) == ("report", "llm")


def test_a_server_that_failed_is_not_asked_again_for_a_while(server: FakeModelServer) -> None:
    server.status = 503
    failures: list[str] = []
    llm = LlmClassifier(DEFAULT_DOC_TYPES, LlmSettings(server.url, "m"), on_failure=failures.append)
    assert llm.classify(LETTER) is None and llm.classify(LETTER) is None
    assert len(server.requests) == 1 and len(failures) == 1 and "503" in failures[0]
    eager = LlmClassifier(DEFAULT_DOC_TYPES, LlmSettings(server.url, "m",
                                                         pause_after_failure_s=0))
    eager.classify(LETTER)
    eager.classify(LETTER)
    assert len(server.requests) == 3


def test_an_unusable_answer_does_not_pause_the_model(server: FakeModelServer) -> None:
    server.reply = {"doc_type": "spaceship"}
    llm = LlmClassifier(DEFAULT_DOC_TYPES, LlmSettings(server.url, "m"))
    llm.classify(LETTER)
    server.reply = {"doc_type": "letter", "confidence": 0.9}
    assert llm.classify(LETTER).doc_type == "letter" and len(server.requests) == 2


def test_a_redirect_is_never_followed_so_the_key_and_text_stay_with_the_configured_server(
        server: FakeModelServer) -> None:
    elsewhere = FakeModelServer()  # stands for an internal address a hostile server points at
    try:
        server.redirect_to = f"{elsewhere.url}/api/chat"
        settings = LlmSettings(server.url, "m", api_key="sk-secret")
        llm = LlmClassifier(DEFAULT_DOC_TYPES, settings)
        assert llm.classify("Confidential contract text") is None
        assert elsewhere.requests == [] and "307" in (llm.last_error or "")
    finally:
        elsewhere.close()


def test_an_endless_reply_is_cut_off_instead_of_filling_memory(server: FakeModelServer) -> None:
    server.reply = "x" * (3 * 1024 * 1024)
    llm = LlmClassifier(DEFAULT_DOC_TYPES, LlmSettings(server.url, "m"))
    assert llm.classify("text") is None
    assert "longer than" in (llm.last_error or "")
