"""Uploads, streamed to disk, rows written, tasks sent: POST /api/upload, /api/batch-upload
and /api/batches/{batch_id}/files (append to a batch); the last two with per-file
idempotency keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from docflow.api.errors import ERROR_RESPONSES, UPLOAD_ERROR_RESPONSES, ApiError, not_found
from docflow.api.multipart import receive_files
from docflow.api.schemas import (
    AppendedDocumentOut,
    BatchAppendResponse,
    BatchUploadResponse,
    UploadLimits,
    UploadResponse,
)
from docflow.api.state import ApiState, get_state
from docflow.store import Batch
from docflow.store.batches import BatchFull, BatchNotFound
from docflow.worker.dispatch import append_documents, submit_documents, upload_documents

router = APIRouter(tags=["upload"])

_RESPONSES = UPLOAD_ERROR_RESPONSES


def _multipart_body(field: str, many: bool, batch_name: bool = True,
                    keys: bool = False) -> dict[str, Any]:
    file_schema: dict[str, Any] = {"type": "string", "format": "binary"}
    props: dict[str, Any] = {field: {"type": "array", "items": file_schema} if many
                             else file_schema}
    if many and batch_name:
        props["batch_name"] = {"type": "string", "description": "Optional name for the batch."}
    media: dict[str, Any] = {"schema": {"type": "object", "properties": props,
                                        "required": [field]}}
    if keys:
        media["encoding"] = {field: {"headers": {"Idempotency-Key": {
            "description": "Per file part, optional: the client's key for this file (1-200 of "
            "A-Z a-z 0-9 . _ : -). A key seen before returns that document instead of a new "
            "one, so a request retried after a lost response creates nothing twice.",
            "schema": {"type": "string", "maxLength": 200}}}}}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": media}}}


@router.get("/api/limits", response_model=UploadLimits, responses=ERROR_RESPONSES,
            summary="Upload limits")
def limits(state: ApiState = Depends(get_state)) -> UploadLimits:
    """What a client must respect: files per batch (and per request) and bytes per file."""
    return UploadLimits(max_files_per_batch=state.settings.max_batch_files,
                        max_file_bytes=state.settings.max_file_bytes)


@router.post("/api/upload", status_code=202, response_model=UploadResponse,
             responses=_RESPONSES, openapi_extra=_multipart_body("file", many=False),
             summary="Upload one document")
async def upload(request: Request, state: ApiState = Depends(get_state)) -> UploadResponse:
    """Store one file (field `file`) and queue it for processing. A filename holding folders
    ("2019/invoice.pdf") is kept as the document's `source_path`; `filename` is its last part."""
    s = state.settings
    form = await receive_files(request, state.store.blobs, file_field="file", max_files=1,
                               max_file_bytes=s.max_file_bytes,
                               min_free_bytes=s.min_free_disk_bytes)
    submitted = await run_in_threadpool(submit_documents, state.store, state.dispatcher,
                                        form.files, source="upload", as_batch=False)
    doc_id, task_id, status, filename, source_path = submitted.documents[0]
    return UploadResponse(document_id=doc_id, task_id=task_id, status=status, filename=filename,
                          source_path=source_path)


@router.post("/api/batch-upload", status_code=202, response_model=BatchUploadResponse,
             responses=_RESPONSES, openapi_extra=_multipart_body("files", many=True, keys=True),
             summary="Upload a batch of documents")
async def batch_upload(request: Request,
                       state: ApiState = Depends(get_state)) -> BatchUploadResponse:
    """Store 1 to `max_batch_files` files (repeated field `files`) as one batch. Send each
    file's path in the uploaded folder as its part's filename ("2019/invoice.pdf", as browsers
    do for a folder): it is kept as the document's `source_path`, filterable with
    `GET /api/documents?path_prefix=`. Give each file
    part an `Idempotency-Key` header to make retries safe: a key seen before returns its
    existing document (in the batch it first went to) and creates nothing; when every key was
    seen before, no batch is made and `batch_id` is the first file's batch."""
    s = state.settings
    form = await receive_files(request, state.store.blobs, file_field="files",
                               max_files=s.max_batch_files, max_file_bytes=s.max_file_bytes,
                               keys=True, min_free_bytes=s.min_free_disk_bytes)
    uploaded = await run_in_threadpool(upload_documents, state.store, state.dispatcher,
                                       form.files, source="batch-upload",
                                       batch_name=form.fields.get("batch_name"))
    docs = [AppendedDocumentOut(**vars(d)) for d in uploaded.documents]
    status = "completed" if all(d.status == "completed" for d in docs) else "queued"
    created = sum(d.created for d in docs)
    return BatchUploadResponse(batch_id=uploaded.batch_id,
                               document_count=uploaded.document_count, status=status,
                               created=created, existing=len(docs) - created, documents=docs)


def _batch_exists(state: ApiState, batch_id: str) -> bool:
    with state.store.db.read() as session:
        return session.get(Batch, batch_id) is not None


@router.post("/api/batches/{batch_id}/files", status_code=202,
             response_model=BatchAppendResponse, responses=_RESPONSES,
             openapi_extra=_multipart_body("files", many=True, batch_name=False, keys=True),
             summary="Add documents to a batch")
async def append_files(request: Request,
                       batch_id: str = Path(description="The batch made with POST /api/batches."),
                       state: ApiState = Depends(get_state)) -> BatchAppendResponse:
    """Add files (repeated field `files`) to a batch made with `POST /api/batches`; a batch
    can arrive in many requests, up to `max_files_per_batch` documents in all (see
    `/api/limits`). Give each file part an `Idempotency-Key` header to make retries safe. A
    part's filename may hold its path in the uploaded folder: see `POST /api/batch-upload`."""
    s = state.settings
    # Refuse before reading the body: the files would be streamed to disk for nothing.
    if not await run_in_threadpool(_batch_exists, state, batch_id):
        raise not_found("batch", batch_id)
    form = await receive_files(request, state.store.blobs, file_field="files",
                               max_files=s.max_batch_files, max_file_bytes=s.max_file_bytes,
                               keys=True, min_free_bytes=s.min_free_disk_bytes)
    try:
        appended = await run_in_threadpool(append_documents, state.store, state.dispatcher,
                                           batch_id, form.files,
                                           max_batch_files=s.max_batch_files)
    except BatchNotFound as exc:
        raise not_found("batch", exc.batch_id) from exc
    except BatchFull as exc:
        raise ApiError(422, exc.code, str(exc)) from exc
    docs = [AppendedDocumentOut(**vars(d)) for d in appended.documents]
    created = sum(d.created for d in docs)
    return BatchAppendResponse(batch_id=batch_id, document_count=appended.document_count,
                               created=created, existing=len(docs) - created, documents=docs)
