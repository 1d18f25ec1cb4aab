"""GET /api/task-status/{task_id}."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from docflow.api.errors import ERROR_RESPONSES, not_found
from docflow.api.schemas import TaskStatus, error_of, warnings_of
from docflow.api.state import ApiState, get_state
from docflow.store.documents import get_by_task

router = APIRouter(tags=["progress"])


@router.get("/api/task-status/{task_id}", response_model=TaskStatus, responses=ERROR_RESPONSES,
            summary="Status of one document's task")
def task_status(task_id: str = Path(description="The task id an upload returned for the "
                                   "document."),
                state: ApiState = Depends(get_state)) -> TaskStatus:
    """Where one document stands: `queued`, `processing`, `completed` or `failed` (then with
    the reason's code and a sentence), how many times a worker took it up, and the warnings of
    a completed one (`no_text`: readable, but no text was found)."""
    with state.store.db.read() as session:
        doc = get_by_task(session, task_id)
        if doc is None:
            raise not_found("task", task_id)
        return TaskStatus(task_id=task_id, document_id=doc.id, status=doc.status,
                          attempts=doc.attempts, error=error_of(doc),
                          warnings=warnings_of(doc))
