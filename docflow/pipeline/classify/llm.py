"""Ask a language model for the type, when the user has configured one.

Two wire formats cover the common servers: Ollama's `/api/chat` (with `format: "json"`) and the
OpenAI-compatible `/v1/chat/completions` (llama.cpp, vLLM, LM Studio, hosted APIs). The prompt
lists every type with its description; the model answers `{"doc_type": ..., "confidence": ...}`.
A failed call or an answer naming no known type gives None, so the next decider takes over.
After a failed call (server down, timeout, HTTP error) the model is not asked again for
`pause_after_failure_s`, so a dead server costs one timeout per pause, not one per document.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from ..types import Classification
from .doc_types import OTHER, DocType

DECIDER = "llm"
PROMPT_CHARS = 6_000  # the head of the document says what it is; keeps prompts small and fast
MAX_REPLY_BYTES = 1024 * 1024  # a type or a few fields fit in far less


class LlmApi(StrEnum):
    OLLAMA = "ollama"
    OPENAI = "openai"


@dataclass(frozen=True)
class LlmSettings:
    base_url: str  # "http://localhost:11434" (Ollama) or "https://host/v1" (OpenAI-compatible)
    model: str
    api: LlmApi = LlmApi.OLLAMA
    api_key: str | None = None
    timeout_s: float = 60.0
    default_confidence: float = 0.8  # when the model gives no usable confidence of its own
    pause_after_failure_s: float = 30.0  # a server that failed is left alone this long


class LlmClassifier:
    """One HTTP client per process; `classify` returns None whenever the model cannot help."""

    def __init__(
        self,
        doc_types: Sequence[DocType],
        settings: LlmSettings,
        transport: httpx.BaseTransport | None = None,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.doc_types = tuple(doc_types)
        self.settings = settings
        self.version = f"{settings.api}:{settings.model}"
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self._client = httpx.Client(
            base_url=settings.base_url.rstrip("/"),
            headers=headers,
            timeout=settings.timeout_s,
            transport=transport,
        )
        self.last_error: str | None = None  # why the last call gave no answer, for logs
        self._on_failure = on_failure  # told why, each time a call gives no answer
        self._paused_until = 0.0

    def close(self) -> None:
        self._client.close()

    def classify(self, text: str) -> Classification | None:
        answer = self.ask_json(_system_prompt(self.doc_types), text[:PROMPT_CHARS])
        return None if answer is None else self._read(answer)

    def ask_json(self, instructions: str, text: str) -> object | None:
        """The model's JSON answer to `instructions` about `text`; None when it gives none."""
        if time.monotonic() < self._paused_until:
            return None
        messages = [{"role": "system", "content": instructions},
                    {"role": "user", "content": text}]
        try:
            content = self._chat(messages)
        except httpx.HTTPError as error:
            self._paused_until = time.monotonic() + self.settings.pause_after_failure_s
            return self._failed(f"{type(error).__name__}: {error}")
        except (ValueError, KeyError, IndexError, TypeError) as error:
            return self._failed(f"unreadable reply ({type(error).__name__}: {error})")
        try:
            return json.loads(content)
        except (ValueError, TypeError) as error:
            return self._failed(f"the answer is not JSON ({error})")

    def _failed(self, why: str) -> None:
        self.last_error = why
        if self._on_failure is not None:
            self._on_failure(why)
        return None

    def _chat(self, messages: list[dict[str, str]]) -> str:
        if self.settings.api is LlmApi.OLLAMA:
            body = {"model": self.settings.model, "messages": messages, "format": "json",
                    "stream": False, "options": {"temperature": 0}}
            return self._post("/api/chat", body)["message"]["content"]
        body = {"model": self.settings.model, "messages": messages, "temperature": 0,
                "response_format": {"type": "json_object"}}
        return self._post("/chat/completions", body)["choices"][0]["message"]["content"]

    def _post(self, path: str, body: dict[str, object]) -> Any:
        """The server's JSON reply, read up to MAX_REPLY_BYTES: a server that answers without
        end (or a redirect's target, which is never followed) cannot fill a worker's memory."""
        with self._client.stream("POST", path, json=body) as response:
            response.raise_for_status()  # a redirect too: it is never followed
            reply = bytearray()
            for chunk in response.iter_bytes():
                reply += chunk
                if len(reply) > MAX_REPLY_BYTES:
                    raise ValueError(f"the reply is longer than {MAX_REPLY_BYTES:,} bytes")
        return json.loads(reply)

    def _read(self, answer: object) -> Classification | None:
        if not isinstance(answer, dict):
            return self._failed("the answer is not a JSON object")
        named = str(answer.get("doc_type", "")).strip().lower().replace(" ", "_")
        known = {doc_type.name.lower(): doc_type.name for doc_type in self.doc_types}
        known[OTHER] = OTHER
        if named not in known:
            return self._failed(f"the model named an unknown type {named!r}")
        confidence = answer.get("confidence")
        if not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
            confidence = self.settings.default_confidence
        return Classification(known[named], round(float(confidence), 3), DECIDER,
                              model_version=self.version)


def _system_prompt(doc_types: Sequence[DocType]) -> str:
    lines = [f"- {doc_type.name}: {doc_type.description}" for doc_type in doc_types]
    return (
        "You classify documents. The possible types are:\n"
        + "\n".join(lines)
        + f"\n- {OTHER}: none of the above.\n"
        "Read the document the user sends and answer with JSON only, in the form "
        '{"doc_type": "<one type name from the list>", "confidence": <0 to 1>}.'
    )
