"""Several small documents in one task message, each processed as if it had a message alone.

A message costs more than a small text document's reading (the broker, the worker's main
process, the pool's IPC, Celery's tracing), so the dispatcher sends small documents of the
default queue several to a message (Settings.documents_per_task). Each document keeps what it
would have alone:
- its own claim, taken when its turn comes (a document that kills its worker uses up its own
  attempts, never the others'), its own lease and cancel (worker/cancel.py);
- its own time limits (worker/memory.py), since Celery's are per message;
- its own retries: a transient error sends that document alone, as its first retry;
- its own move to the ocr queue and its own failure reason.

At least once: the message is acknowledged after the task returns (acks_late) and comes back
if the worker dies (reject_on_worker_lost); a document already ended is skipped by its claim,
one in flight under the dead worker is claimed again. A task that has run for
`group_budget_seconds` sends the documents it has not started in a message of their own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from celery import Task
from celery.exceptions import Retry
from sqlalchemy.orm import Session

from docflow.store import documents as docs
from docflow.worker.celery_app import DEFAULT_QUEUE, TASK_PROCESS_DOCUMENTS, app
from docflow.worker.dispatch import TaskRef, group_budget_seconds
from docflow.worker.results import dispatcher
from docflow.worker.runtime import Runtime, runtime
from docflow.worker.tasks import process_one, take_claim

log = logging.getLogger(__name__)


class DocumentOfGroup:
    """Stands in for a task of the document's own, where the document code asks its task
    for retries so far, to retry, or to look again later (results.py, leases.py): each sends
    this document alone, as that retry."""

    def __init__(self, group: Task, rt: Runtime, document_id: str) -> None:
        self._rt, self._document_id = rt, document_id
        self.request = SimpleNamespace(retries=0, id=None, hostname=group.request.hostname,
                                       delivery_info=group.request.delivery_info)

    def retry(self, *, exc: BaseException | None = None, countdown: float = 0,
              max_retries: int | None = None, **_: Any) -> Retry:
        dispatcher(self._rt).send_later(self._document_id, countdown, retries=1)
        return Retry(exc=exc, when=countdown)

    def apply_async(self, *, args: list[str], countdown: float = 0, **_: Any) -> None:
        dispatcher(self._rt).send_later(args[0], countdown)


class NextClaim:
    """The claim of a group's next document, taken in the transaction that ends the one before
    it (its result or its failure): a document of a group costs one commit, not two.

    It is taken only where its turn has come anyway: by the task's own thread (never by a
    watchdog that fails a document and then ends the process, which would use up the next
    one's attempt without reading it), and while the group is within its budget.
    """

    def __init__(self, group: Task, rt: Runtime, within_budget: Callable[[], bool]) -> None:
        self._group, self._rt, self._within_budget = group, rt, within_budget
        self._thread = threading.get_ident()
        self._next: str | None = None
        self._pending: tuple[str, docs.Claim] | None = None
        self._taken: dict[str, docs.Claim] = {}

    def for_next(self, document_id: str | None) -> NextClaim:
        """The document the next ending transaction claims (None: the last was started)."""
        self._next = document_id
        return self

    def taken(self, document_id: str) -> docs.Claim | None:
        """The claim of `document_id` taken and committed by the document before it."""
        return self._taken.pop(document_id, None)

    def write(self, session: Session) -> None:
        self._pending = None
        doc_id = self._next
        if (doc_id is None or doc_id in self._taken or threading.get_ident() != self._thread
                or not self._within_budget()):
            return
        self._pending = doc_id, take_claim(DocumentOfGroup(self._group, self._rt, doc_id),
                                           self._rt, session, doc_id)

    def committed(self) -> None:
        if self._pending is not None:
            doc_id, claim = self._pending
            self._taken[doc_id] = claim
            self._pending = None


@app.task(bind=True, name=TASK_PROCESS_DOCUMENTS, acks_late=True, reject_on_worker_lost=True)
def process_documents(self: Task, document_ids: list[str]) -> str:
    rt = runtime()
    queue = (self.request.delivery_info or {}).get("routing_key") or DEFAULT_QUEUE
    started = time.monotonic()
    budget = group_budget_seconds(rt.settings)
    next_claim = NextClaim(self, rt, lambda: time.monotonic() - started <= budget)
    outcomes: Counter[str] = Counter()
    try:
        for n, doc_id in enumerate(document_ids):
            claimed = next_claim.taken(doc_id)
            if n and claimed is None and time.monotonic() - started > budget:
                _send_on(rt, document_ids[n:])
                outcomes["sent on"] += len(document_ids) - n
                break
            following = document_ids[n + 1] if n + 1 < len(document_ids) else None
            outcome = _one(self, rt, doc_id, queue, claimed, next_claim.for_next(following))
            outcomes[outcome] += 1
            if outcome == "terminated":  # the pool is stopping this task: the rest go on
                _send_on(rt, document_ids[n + 1:])
                break
    finally:
        if self.request.id:
            dispatcher(rt).group_done(self.request.id)
    return ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))


def _one(group: Task, rt: Runtime, doc_id: str, queue: str, claimed: docs.Claim | None,
         next_claim: NextClaim) -> str:
    try:
        return process_one(DocumentOfGroup(group, rt, doc_id), rt, doc_id, queue,
                           own_time_limits=True, claimed=claimed, also=next_claim)
    except Retry:
        return "retrying alone"
    except Exception:  # its message would end here, but the others' must not
        log.exception("document %s: unexpected error; the reconciler sends it again", doc_id)
        return "left to the reconciler"


def _send_on(rt: Runtime, document_ids: list[str]) -> None:
    """Send the documents this task will not start (still queued) in a message of their own;
    they were small enough to share this one."""
    if not document_ids:
        return
    refs = [TaskRef(doc_id, "", DEFAULT_QUEUE, size=0) for doc_id in document_ids]
    if dispatcher(rt).send(refs) < len(refs):
        log.warning("%d documents stay queued for the reconciler", len(document_ids))
