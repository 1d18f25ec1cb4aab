"""POST /api/upload and POST /api/batch-upload: streamed to disk, rows written, tasks sent."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from docflow.api.errors import ERROR_RESPONSES, ErrorBody
from docflow.api.multipart import receive_files
from docflow.api.schemas import BatchUploadResponse, UploadResponse
from docflow.api.state import ApiState, get_state
from docflow.worker.dispatch import submit_documents

router = APIRouter(tags=["upload"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES, 413: {"model": ErrorBody, "description": "A file is over the size limit"}}


def _multipart_body(field: str, many: bool) -> dict[str, Any]:
    file_schema: dict[str, Any] = {"type": "string", "format": "binary"}
    props: dict[str, Any] = {field: {"type": "array", "items": file_schema} if many
                             else file_schema}
    if many:
        props["batch_name"] = {"type": "string", "description": "Optional name for the batch."}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "properties": props, "required": [field]}}}}}


@router.post("/api/upload", status_code=202, response_model=UploadResponse,
             responses=_RESPONSES, openapi_extra=_multipart_body("file", many=False),
             summary="Upload one document")
async def upload(request: Request, state: ApiState = Depends(get_state)) -> UploadResponse:
    """Store one file (field `file`) and queue it for processing."""
    s = state.settings
    form = await receive_files(request, state.store.blobs, file_field="file", max_files=1,
                               max_file_bytes=s.max_file_bytes)
    submitted = await run_in_threadpool(submit_documents, state.store, state.dispatcher,
                                        form.files, source="upload", as_batch=False)
    doc_id, task_id, status, filename = submitted.documents[0]
    return UploadResponse(document_id=doc_id, task_id=task_id, status=status, filename=filename)


@router.post("/api/batch-upload", status_code=202, response_model=BatchUploadResponse,
             responses=_RESPONSES, openapi_extra=_multipart_body("files", many=True),
             summary="Upload a batch of documents")
async def batch_upload(request: Request,
                       state: ApiState = Depends(get_state)) -> BatchUploadResponse:
    """Store 1 to `max_batch_files` files (repeated field `files`) as one batch."""
    s = state.settings
    form = await receive_files(request, state.store.blobs, file_field="files",
                               max_files=s.max_batch_files, max_file_bytes=s.max_file_bytes)
    submitted = await run_in_threadpool(submit_documents, state.store, state.dispatcher,
                                        form.files, source="batch-upload",
                                        batch_name=form.fields.get("batch_name"))
    assert submitted.batch_id is not None
    docs = [UploadResponse(document_id=d, task_id=t, status=st, filename=f)
            for d, t, st, f in submitted.documents]
    status = "completed" if all(d.status == "completed" for d in docs) else "queued"
    return BatchUploadResponse(batch_id=submitted.batch_id, document_count=len(docs),
                               status=status, documents=docs)
