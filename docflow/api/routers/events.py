"""Live progress as Server-Sent Events: GET /api/events and GET /api/batches/{id}/events.

Events come from the database, never from one process's memory, so any API process on any
host serves them: each process runs one poller per watched batch (and one for all documents),
shared by every browser connected to it. A poll reads the documents that finished since its
cursor from the (batch_id, finished_at, id) index, and the batch's counters (or the tenant's,
for all documents), which the database keeps as documents change (store/counts.py): a few
rows, at 500 or 500,000 documents. The cost per second is one poller's, however many
dashboards are open. Each document event's id is its cursor, so a reconnecting EventSource
(Last-Event-ID) resumes with nothing lost or repeated.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from docflow.api.errors import ERROR_RESPONSES, ApiError, not_found
from docflow.api.state import ApiState, get_state
from docflow.store import Batch, DocumentStatus
from docflow.store.batches import batch_progress
from docflow.store.counts import status_totals
from docflow.store.events import (
    AFTER_EVERY_ID,
    Cursor,
    FinishedDocument,
    InvalidCursor,
    finished_between,
)
from docflow.store.models import utcnow
from docflow.store.scope import current_tenant, tenant_scope

log = logging.getLogger(__name__)
router = APIRouter(tags=["progress"])

KEEPALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing an idle stream
BUFFER_EVENTS = 5000  # recent events a poller keeps for connections a little behind it
PAGE = 500  # documents read per query
RECONNECT_MS = 2000

_SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    200: {"description": "A text/event-stream: `document` events (id = cursor), `progress` "
                         "events (counters)", "content": {"text/event-stream": {}}},
}


def _overall_progress(session: Session) -> dict[str, Any]:
    """The tenant's documents by status, from its counter rows (as /api/overview reads them),
    in the shape of a batch's progress."""
    counts = dict.fromkeys(DocumentStatus.ALL, 0)
    counts.update(status_totals(session))
    total = sum(counts.values())
    finished = sum(counts[s] for s in DocumentStatus.TERMINAL)
    return {"total": total, **counts,
            "progress_percent": round(100.0 * finished / total, 2) if total else 100.0,
            "done": finished >= total}


def _document_event(doc: FinishedDocument) -> dict[str, Any]:
    error = ({"code": doc.error_code, "message": doc.error_message or ""}
             if doc.error_code else None)
    return {"id": doc.id, "batch_id": doc.batch_id, "filename": doc.filename,
            "source_path": doc.source_path, "status": doc.status, "error": error,
            "doc_type": doc.doc_type, "finished_at": doc.finished_at.isoformat()}


@dataclass
class Poller:
    """One per (process, batch or all): reads the database and wakes its listeners."""

    state: ApiState
    tenant: str  # whose documents it reads: pollers are shared within a tenant only
    batch_id: str | None
    floor: Cursor  # every event above this and up to `horizon` is in `events`
    horizon: datetime
    events: deque[tuple[Cursor, dict[str, Any]]] = field(
        default_factory=lambda: deque(maxlen=BUFFER_EVENTS))
    progress: dict[str, Any] | None = None
    listeners: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None

    @property
    def latest(self) -> Cursor:
        return self.events[-1][0] if self.events else self.floor

    def _read(self, after: Cursor, until: datetime) -> tuple[list[FinishedDocument],
                                                             dict[str, Any] | None]:
        with tenant_scope(self.tenant), self.state.store.db.read() as session:
            docs = finished_between(session, after, until, self.batch_id, PAGE)
            progress = None
            if self.batch_id is None:
                progress = _overall_progress(session)
            else:
                found = batch_progress(session, self.batch_id)
                if found is not None:
                    progress = {**asdict(found), "progress_percent": found.progress_percent,
                                "done": found.done}
        return docs, progress

    def catch_up(self, after: Cursor, until: datetime) -> list[FinishedDocument]:
        with tenant_scope(self.tenant), self.state.store.db.read() as session:
            return finished_between(session, after, until, self.batch_id, PAGE)

    async def run(self) -> None:
        settings = self.state.settings
        while True:
            until = utcnow() - timedelta(seconds=settings.events_settle_seconds)
            try:
                docs, progress = await run_in_threadpool(self._read, self.latest, until)
            except Exception:  # the database is away for a moment: the next poll catches up
                log.warning("live events: reading the database failed", exc_info=True)
                await asyncio.sleep(settings.events_poll_seconds)
                continue
            full_page = len(docs) == PAGE
            async with self.changed:
                for doc in docs:
                    if len(self.events) == self.events.maxlen:
                        self.floor = self.events[0][0]  # the oldest leaves the buffer
                    self.events.append((doc.cursor, _document_event(doc)))
                # A full page means more are waiting at or below `until`: the horizon
                # reaches only as far as what was read.
                self.horizon = docs[-1].finished_at if full_page else until
                moved = progress is not None and progress != self.progress
                if moved:
                    self.progress = progress
                if docs or moved:
                    self.changed.notify_all()
            if not full_page:
                await asyncio.sleep(settings.events_poll_seconds)

    def since(self, cursor: Cursor) -> list[tuple[Cursor, dict[str, Any]]] | None:
        """The buffered events after `cursor`; None when the buffer no longer reaches it."""
        if cursor < self.floor:
            return None
        return [(c, e) for c, e in self.events if c > cursor]


@dataclass
class EventHub:
    pollers: dict[tuple[str, str | None], Poller] = field(default_factory=dict)

    def join(self, state: ApiState, tenant: str, batch_id: str | None) -> Poller:
        poller = self.pollers.get((tenant, batch_id))
        if poller is None:
            now = utcnow() - timedelta(seconds=state.settings.events_settle_seconds)
            poller = Poller(state, tenant, batch_id, floor=Cursor(now, AFTER_EVERY_ID),
                            horizon=now)
            poller.task = asyncio.get_running_loop().create_task(poller.run())
            self.pollers[tenant, batch_id] = poller
        poller.listeners += 1
        return poller

    def leave(self, poller: Poller) -> None:
        poller.listeners -= 1
        key = (poller.tenant, poller.batch_id)
        if poller.listeners == 0 and self.pollers.get(key) is poller:
            del self.pollers[key]
            if poller.task is not None:
                poller.task.cancel()


def _hub(request: Request) -> EventHub:
    hub = getattr(request.app.state, "event_hub", None)
    if hub is None:
        hub = request.app.state.event_hub = EventHub()
    return hub  # type: ignore[no-any-return]


def _frame(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _stream(request: Request, state: ApiState, tenant: str, batch_id: str | None,
                  cursor: Cursor) -> AsyncIterator[str]:
    hub = _hub(request)
    poller = hub.join(state, tenant, batch_id)
    try:
        yield f"retry: {RECONNECT_MS}\n\n"
        sent_progress: dict[str, Any] | None = None
        while True:
            buffered = poller.since(cursor)
            if buffered is None:  # behind the buffer: catch up from the database
                horizon = poller.horizon
                docs = await run_in_threadpool(poller.catch_up, cursor, horizon)
                buffered = [(d.cursor, _document_event(d)) for d in docs]
                if len(docs) < PAGE:  # all up to the horizon is read: the buffer takes over
                    reached = Cursor(horizon, AFTER_EVERY_ID)
                    buffered.append((reached, {}))
            for event_cursor, event in buffered:
                if event:
                    yield _frame("document", event, event_cursor.encode())
                cursor = max(cursor, event_cursor)
            if poller.progress is not None and poller.progress != sent_progress:
                sent_progress = poller.progress
                yield _frame("progress", sent_progress)
            idle = False
            async with poller.changed:
                # Checked under the poller's lock, so no wake-up falls between check and wait.
                if poller.since(cursor) == [] and poller.progress == sent_progress:
                    try:
                        await asyncio.wait_for(poller.changed.wait(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        idle = True
            if await request.is_disconnected():
                return
            if idle:
                yield ": keepalive\n\n"
    finally:
        hub.leave(poller)


def _sse(body: AsyncIterator[str]) -> StreamingResponse:
    # no-transform and X-Accel-Buffering: proxies must pass each event on at once.
    return StreamingResponse(body, media_type="text/event-stream", headers={
        "Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"})


def _open(request: Request, state: ApiState, batch_id: str | None,
          last_event_id: str | None) -> StreamingResponse:
    """The stream starts at the moment of the request (a poller started later catches up
    from the database); the poller is joined in the stream, so whatever ends it leaves.
    The stream runs after the request's tenant scope has ended: it carries the tenant."""
    tenant = current_tenant()
    try:
        cursor = Cursor.decode(last_event_id) if last_event_id else None
    except InvalidCursor as exc:
        raise ApiError(422, exc.code, str(exc)) from exc
    if "text/event-stream" not in request.headers.get("accept", ""):
        return _sse(_snapshot(state, tenant, batch_id, cursor))
    if cursor is None:
        running = _hub(request).pollers.get((tenant, batch_id))
        cursor = running.latest if running is not None else Cursor(
            utcnow() - timedelta(seconds=state.settings.events_settle_seconds), AFTER_EVERY_ID)
    return _sse(_stream(request, state, tenant, batch_id, cursor))


async def _snapshot(state: ApiState, tenant: str, batch_id: str | None,
                    cursor: Cursor | None) -> AsyncIterator[str]:
    """For a client that did not ask for a stream (curl, a script polling with Last-Event-ID):
    the events there are now (after the cursor; none without one) and the counters, then the
    end."""
    until = utcnow() - timedelta(seconds=state.settings.events_settle_seconds)
    reader = Poller(state, tenant, batch_id, floor=Cursor(until, AFTER_EVERY_ID),
                    horizon=until)
    docs, progress = await run_in_threadpool(reader._read, cursor or reader.floor, until)
    for doc in docs:
        yield _frame("document", _document_event(doc), doc.cursor.encode())
    if progress is not None:
        yield _frame("progress", progress)


LAST_EVENT_ID = Header(None, alias="Last-Event-ID", description="The id of the last event "
                       "received; the stream resumes after it (EventSource sends it itself).")


@router.get("/api/events", response_class=StreamingResponse, responses=_SSE_RESPONSES,
            summary="Live progress and events of all documents")
async def all_events(request: Request, last_event_id: str | None = LAST_EVENT_ID,
                     state: ApiState = Depends(get_state)) -> StreamingResponse:
    """Server-Sent Events: `progress` (all of the tenant's documents by status: total, queued,
    processing, completed, failed, cancelled, progress_percent and done, as /api/overview
    counts them; on connecting and whenever they change, at most once per poll) and a
    `document` event for each document that ends (completed, failed or cancelled: id, batch,
    name, status, error, type), a second or two after it does. The stream stays open for
    clients that send `Accept: text/event-stream` (EventSource does); others get the events
    there are now (after Last-Event-ID), the counters, and the end."""
    return _open(request, state, None, last_event_id)


def _batch_exists(state: ApiState, batch_id: str) -> bool:
    with state.store.db.read() as session:
        return session.get(Batch, batch_id) is not None


@router.get("/api/batches/{batch_id}/events", response_class=StreamingResponse,
            responses=_SSE_RESPONSES, summary="Live events of a batch")
async def batch_events(request: Request, batch_id: str = Path(description="The batch's id."),
                       last_event_id: str | None = LAST_EVENT_ID,
                       state: ApiState = Depends(get_state)) -> StreamingResponse:
    """Server-Sent Events: `progress` (the batch's counters, as /api/batch-status gives them,
    whenever they change, at most once per poll) and a `document` event for each of its
    documents that ends. Open while `Accept: text/event-stream` is sent, as for /api/events."""
    if not await run_in_threadpool(_batch_exists, state, batch_id):
        raise not_found("batch", batch_id)
    return _open(request, state, batch_id, last_event_id)
