"""A configured language model is asked for the type; a fake local server stands in for it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from docflow.pipeline.classify import (
    DEFAULT_DOC_TYPES,
    DocumentClassifier,
    LlmApi,
    LlmClassifier,
    LlmSettings,
)

LETTER = "Dear Ms Smith,\nThank you for your visit last week.\nYours sincerely,\nJohn"


class FakeModelServer:
    """Answers /api/chat (Ollama) and /v1/chat/completions (OpenAI) with a canned reply."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict, dict]] = []  # path, body, headers
        self.reply: object = {"doc_type": "contract", "confidence": 0.92}
        self.status = 200
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, body, dict(self.headers)))
                content = server.reply if isinstance(server.reply, str) else json.dumps(
                    server.reply)
                if self.path == "/api/chat":
                    payload = {"model": body["model"], "done": True,
                               "message": {"role": "assistant", "content": content}}
                else:
                    payload = {"choices": [{"message": {"role": "assistant",
                                                        "content": content}}]}
                data = json.dumps(payload).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_port}"
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


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
