"""The docflow HTTP API as the upload client uses it: limits, batches, appends, progress."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

import docflow
from docflow.client.errors import RequestFailed, UnexpectedAnswer, UnreadableFile
from docflow.client.retry import RetryHook, RetryPolicy, send_with_retries


@dataclass(frozen=True)
class Limits:
    max_files_per_batch: int
    max_file_bytes: int


@dataclass(frozen=True)
class Part:
    """One local file of a request: read from `path`, sent as the filename `rel` (its path in
    the folder, "/"-separated), which the server keeps as the document's source_path."""

    rel: str
    path: str
    key: str
    size: int


@dataclass(frozen=True)
class Placed:
    """Where the server put one file."""

    key: str
    document_id: str
    batch_id: str | None
    created: bool  # False: an earlier request (or run) already delivered it


@dataclass(frozen=True)
class BatchState:
    batch_id: str
    total: int
    completed: int
    processing: int
    queued: int
    failed: int
    progress_percent: float
    cancelled: int = 0  # servers before cancel existed do not send it

    @property
    def done(self) -> bool:
        return self.completed + self.failed + self.cancelled >= self.total


@dataclass(frozen=True)
class ListedDocument:
    """One row of GET /api/documents."""

    id: str
    filename: str
    source_path: str | None
    status: str
    doc_type: str | None
    batch_id: str | None
    error_code: str | None
    error_message: str | None
    needs_review: bool
    created_at: str


@dataclass(frozen=True)
class ListedBatch:
    """One row of GET /api/batches."""

    batch_id: str
    name: str | None
    created_at: str
    progress: BatchState


class DocflowApi:
    def __init__(self, url: str, *, token: str | None = None, timeout: float = 120.0,
                 policy: RetryPolicy | None = None, connections: int = 8,
                 transport: httpx.AsyncBaseTransport | None = None,
                 on_retry: RetryHook | None = None) -> None:
        headers = {"User-Agent": f"docflow-upload/{docflow.__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.url = url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.on_retry = on_retry
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=headers, transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            limits=httpx.Limits(max_connections=connections + 2,
                                max_keepalive_connections=connections + 2))

    async def _send(self, send: Callable[[], Awaitable[httpx.Response]],
                    policy: RetryPolicy | None = None) -> httpx.Response:
        async def send_checked() -> httpx.Response:
            response = await send()
            if response.is_success:
                _json_object(response, self.url)  # a proxy's page is retried, not parsed
            return response

        return await send_with_retries(send_checked, policy or self.policy,
                                       on_retry=self.on_retry)

    async def limits(self) -> Limits:
        response = await self._send(lambda: self._http.get("/api/limits"))
        body = _json_or_raise(response, self.url)
        with _docflow_shape(response, self.url):
            return Limits(int(body["max_files_per_batch"]), int(body["max_file_bytes"]))

    async def create_batch(self, name: str | None, key: str) -> str:
        response = await self._send(lambda: self._http.post(
            "/api/batches", json={"name": name}, headers={"Idempotency-Key": key}))
        body = _json_or_raise(response, self.url)
        with _docflow_shape(response, self.url):
            return str(body["batch_id"])

    async def append(self, batch_id: str, parts: Sequence[Part]) -> list[Placed]:
        """Send files to a batch; retries resend the same keys, so nothing arrives twice."""

        async def send() -> httpx.Response:
            with ExitStack() as opened:
                files: list[tuple[str, Any]] = []
                for part in parts:
                    try:
                        handle = opened.enter_context(open(part.path, "rb"))  # noqa: SIM115
                    except OSError as exc:
                        raise UnreadableFile(part.rel, exc) from exc
                    files.append(("files", (part.rel, handle, None,
                                            {"Idempotency-Key": part.key})))
                return await self._http.post(f"/api/batches/{batch_id}/files", files=files)

        response = await self._send(send)
        body = _json_or_raise(response, self.url)
        with _docflow_shape(response, self.url):
            return [Placed(d["idempotency_key"], d["document_id"], d.get("batch_id"),
                           bool(d["created"])) for d in body["documents"]]

    async def batch_status(self, batch_id: str,
                           policy: RetryPolicy | None = None) -> BatchState | None:
        """The batch's progress; None when the server does not know it."""
        response = await self._send(lambda: self._http.get(f"/api/batch-status/{batch_id}"),
                                    policy)
        if response.status_code == 404:
            return None
        body = _json_or_raise(response, self.url)
        with _docflow_shape(response, self.url):
            return BatchState(**{k: body[k] for k in BatchState.__dataclass_fields__
                                 if k != "cancelled"}, cancelled=body.get("cancelled", 0))

    async def _pages(self, path: str, params: Mapping[str, object],
                     items: str) -> AsyncIterator[list[dict[str, Any]]]:
        """Every page of a listing, each asked for by the cursor the one before gave: each
        costs the server the same however deep it is."""
        query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()
                 if v is not None}
        while True:
            response = await self._send(lambda: self._http.get(path, params=query))
            body = _json_or_raise(response, self.url)
            with _docflow_shape(response, self.url):
                rows, cursor = list(body[items]), body["next_cursor"]
            if rows:
                yield rows
            if cursor is None:
                return
            query["cursor"] = cursor

    async def documents(self, *, order: str = "oldest", page_size: int = 500,
                        **filters: str | bool | None) -> AsyncIterator[ListedDocument]:
        """Every document that matches `filters` (batch_id, status, doc_type, parent_id,
        needs_review, path_prefix, warning), in `order` (oldest, newest or path)."""
        async for rows in self._pages("/api/documents",
                                      {**filters, "order": order, "limit": page_size},
                                      "documents"):
            for d in rows:
                error = d.get("error") or {}
                yield ListedDocument(
                    id=d["id"], filename=d["filename"], source_path=d.get("source_path"),
                    status=d["status"], doc_type=d.get("doc_type"), batch_id=d.get("batch_id"),
                    error_code=error.get("code"), error_message=error.get("message"),
                    needs_review=bool(d.get("needs_review")), created_at=d["created_at"])

    async def batches(self, *, page_size: int = 100) -> AsyncIterator[ListedBatch]:
        """Every batch, newest first, with its progress."""
        async for rows in self._pages("/api/batches", {"limit": page_size}, "batches"):
            for b in rows:
                p = b["progress"]
                yield ListedBatch(b["batch_id"], b.get("name"), b["created_at"], BatchState(
                    **{k: p[k] for k in BatchState.__dataclass_fields__ if k != "cancelled"},
                    cancelled=p.get("cancelled", 0)))

    async def aclose(self) -> None:
        await self._http.aclose()


def _json_object(response: httpx.Response, url: str) -> dict[str, Any]:
    """The answer's JSON object; UnexpectedAnswer when it is anything else (an HTML page)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        what = f"{kind} that is not a JSON object" if "json" in kind else \
            kind or "no content type"
        raise UnexpectedAnswer(f"The server at {url} answered {response.status_code} with "
                               f"{what}, not docflow's JSON: is --url right?")
    return body


@contextmanager
def _docflow_shape(response: httpx.Response, url: str) -> Iterator[None]:
    """JSON without the fields docflow sends is another server's answer."""
    try:
        yield
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        raise UnexpectedAnswer(f"The server at {url} answered {response.request.method} "
                               f"{response.request.url.path} with JSON that docflow does not "
                               f"send ({detail}): is --url right?") from exc


def _json_or_raise(response: httpx.Response, url: str) -> dict[str, Any]:
    if response.is_success:
        return _json_object(response, url)
    try:
        body = response.json()
        code, message = str(body["code"]), str(body["message"])
    except (ValueError, KeyError, TypeError):
        code = f"http_{response.status_code}"
        message = f"The server answered {response.status_code} {response.reason_phrase}: " \
                  f"{response.text[:200]}"
    raise RequestFailed(response.status_code, code, message)
