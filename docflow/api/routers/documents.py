"""GET /api/documents, /api/documents/{id} and /api/documents/{id}/file."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from docflow.api.cursors import (
    CURSOR_HELP,
    MAX_CURSOR_CHARS,
    Cursor,
    KeyType,
    decode_cursor,
    page_cursors,
)
from docflow.api.errors import ERROR_RESPONSES, ApiError, ErrorBody, not_found
from docflow.api.schemas import DocumentDetail, DocumentList, detail_of, summary_of
from docflow.api.state import ApiState, get_state
from docflow.store import Document, DocumentStatus
from docflow.store.cancel import cancel_document
from docflow.store.document_types import get_type
from docflow.store.documents import get_text
from docflow.store.field_labels import CorrectedField, correct_fields, refresh_labels
from docflow.store.listing import (
    DocumentFilter,
    DocumentOrder,
    count_documents,
    document_key,
    list_documents,
)
from docflow.store.models import utcnow

router = APIRouter(tags=["documents"])

MAX_ID_CHARS = 200
# Deepest page of the listing; far beyond any collection docflow is sized for (500,000).
MAX_LIST_OFFSET = 1_000_000_000
# Shown in the web app beside the text; none of them can run script in this origin.
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif",
                          "image/webp", "image/tiff", "image/bmp", "text/plain"})

PATH_PREFIX_HELP = (
    "Only documents whose `source_path` starts with this (case-sensitive). End it "
    "with '/' for a folder and everything below it: `2019/` matches `2019/invoice.pdf` and "
    "`2019/q1/a.pdf` (and the members of archives in them), not `2019-old/a.pdf`; without the "
    "'/', `2019` matches both. '\\' counts as '/' and a leading '/' is ignored. Documents "
    "stored before paths were kept (source_path null) never match.")


ORDER_HELP = ("oldest (the default): by when they were added, then id; newest: the reverse; "
              "path: by source_path, then id (documents without a path are not listed). "
              "Every order reads an index range whatever the filters, at any depth.")
KEY_TYPES = {DocumentOrder.OLDEST: (KeyType.TIME, KeyType.TEXT),
             DocumentOrder.NEWEST: (KeyType.TIME, KeyType.TEXT),
             DocumentOrder.PATH: (KeyType.TEXT, KeyType.TEXT)}


@router.get("/api/documents", response_model=DocumentList, responses=ERROR_RESPONSES,
            summary="List documents")
def documents(batch_id: str | None = Query(None, max_length=MAX_ID_CHARS,
                                            description="Only the documents of this batch "
                                            "(attachments and archive members included)."),
              status: str | None = Query(None, description="queued, processing, completed, "
                                         "failed or cancelled.", pattern="^(queued|processing|"
                                         "completed|failed|cancelled)$"),
              doc_type: str | None = Query(None, max_length=MAX_ID_CHARS,
                                           description="Only documents of this type "
                                           "(see /api/document-types)."),
              parent_id: str | None = Query(None, max_length=MAX_ID_CHARS,
                                            description="Only the attachments or archive "
                                            "members of this document."),
              needs_review: bool | None = Query(None, description="true: only documents whose "
                                                "type was chosen with low confidence."),
              path_prefix: str | None = Query(None, max_length=1024,
                                              description=PATH_PREFIX_HELP),
              warning: str | None = Query(None, max_length=40, pattern="^[a-z_]+$",
                                          description="Only documents with this warning "
                                          "code (no_text, partial, truncated), or "
                                          "'any'."),
              order: DocumentOrder = Query(DocumentOrder.OLDEST, description=ORDER_HELP),
              limit: int = Query(50, ge=1, le=1000, description="Documents per page."),
              cursor: str | None = Query(None, max_length=MAX_CURSOR_CHARS,
                                         description=CURSOR_HELP),
              offset: int = Query(0, ge=0, le=MAX_LIST_OFFSET,
                                  description="Documents to skip, for clients written before "
                                  "cursors: it costs O(offset) (a page at 45,000 reads 45,000 "
                                  "rows first), so page by `cursor` instead. Not with `cursor`."),
              count: bool = Query(False, description="true: also count every match (`total`). "
                                  "It reads all of them: ask once, not on every page."),
              state: ApiState = Depends(get_state)) -> DocumentList:
    """A page of documents in the chosen order, and cursors to the pages beside it: id, file
    name, path in the uploaded folder, status, the reason of a failure (`error: {code,
    message}`), type and whether it awaits review. Walk a listing by `next_cursor` until it
    is null."""
    flt = DocumentFilter(batch_id, status, doc_type, parent_id, needs_review, path_prefix,
                         warning)
    filters = flt.as_dict()
    at = _position(cursor, offset, order, filters)
    with state.store.db.read() as session:
        page = list_documents(session, flt, limit, order=order, offset=offset,
                              after=at.key if at and not at.before else None,
                              before=at.key if at and at.before else None)
        total = count_documents(session, flt) if count else None
    next_cursor, prev_cursor = page_cursors(
        LISTING, order, filters, page.rows, page.more_after, page.more_before,
        lambda d: document_key(order, d))
    return DocumentList(total=total, limit=limit, offset=offset, order=order,
                        next_cursor=next_cursor, prev_cursor=prev_cursor,
                        documents=[summary_of(d) for d in page.rows])


LISTING = "documents"


def _position(cursor: str | None, offset: int, order: DocumentOrder,
              filters: dict[str, object]) -> Cursor | None:
    if cursor is None:
        return None
    if offset:
        raise ApiError(422, "cursor_with_offset", "Send a cursor or an offset, not both: the "
                       "cursor says where the page starts.")
    return decode_cursor(cursor, LISTING, order, filters, KEY_TYPES[order])


@router.get("/api/documents/{document_id}", response_model=DocumentDetail,
            responses=ERROR_RESPONSES, summary="One document with its results")
def document(document_id: str = Path(description="The document's id."),
             state: ApiState = Depends(get_state)) -> DocumentDetail:
    """Everything known about one document: status or reason of failure, format, pages, type
    with its confidence, decider and model version, key fields with their evidence spans,
    parent and children, and the extracted text once it is completed."""
    with state.store.db.read() as session:
        doc = session.get(Document, document_id)
        if doc is None:
            raise not_found("document", document_id)
        text = get_text(session, doc.sha256) if doc.status == DocumentStatus.COMPLETED else None
        return detail_of(doc, text)


@router.get("/api/documents/{document_id}/file", response_class=FileResponse,
            responses={**ERROR_RESPONSES, 200: {
                "description": "The original bytes, as the document's mime_type (detected when "
                "it was processed; application/octet-stream before)",
                "content": {"application/octet-stream": {}, "*/*": {}}},
                410: {"model": ErrorBody, "description": "The original is no longer in "
                                                         "storage (original_missing)"}},
            summary="Download the original")
def document_file(document_id: str = Path(description="The document's id."),
                  inline: bool = Query(False, description="Show it in the browser (PDFs, "
                                       "images, plain text only; others still download)."),
                  state: ApiState = Depends(get_state)) -> Response:
    """The original file as it was uploaded (or as it came out of its archive or e-mail),
    under its stored name; 410 when the original is no longer in storage."""
    with state.store.db.read() as session:
        doc = session.get(Document, document_id)
        if doc is None:
            raise not_found("document", document_id)
    media_type = doc.mime_type or "application/octet-stream"
    shown = inline and media_type in INLINE_TYPES
    # RFC 6266 filename*: the stored name may hold any character, so always quote it.
    headers = {"Content-Disposition": f"{'inline' if shown else 'attachment'}; "
               f"filename*=UTF-8''{quote(doc.filename)}",
               # An uploaded file is never sniffed into something that runs (HTML, script).
               "X-Content-Type-Options": "nosniff"}
    gone = ApiError(410, "original_missing", "The original file is no longer in storage.")
    path = state.store.blobs.local_path(doc.sha256)
    if path is not None:
        if not path.is_file():
            raise gone
        return FileResponse(path, media_type=media_type, headers=headers)
    try:
        body = state.store.blobs.open(doc.sha256)
    except FileNotFoundError:
        raise gone from None
    headers["Content-Length"] = str(doc.size)
    return StreamingResponse(iter(lambda: body.read(1 << 20), b""), media_type=media_type,
                             headers=headers)


MAX_FIELD_NAME = 100
MAX_FIELD_VALUE = 10_000
MAX_CORRECTED_FIELDS = 200


class FieldCorrection(BaseModel):
    name: str = Field(min_length=1, max_length=MAX_FIELD_NAME, description="The field: total, "
                      "document_date, invoice_number, vendor, ... or a name of your own.")
    value: str = Field(max_length=MAX_FIELD_VALUE, description="The value as printed in the "
                       "document, e.g. '1,234.50'.")
    normalized: str | None = Field(None, max_length=MAX_FIELD_VALUE, description="Its "
                                   "normalised form, e.g. '1234.50 EUR' or '2024-03-12'; the "
                                   "value itself when left out.")


class Correction(BaseModel):
    doc_type: str | None = Field(None, max_length=100, description="The right type (must "
                                 "exist); kept as a label the trained classifier learns from.")
    fields: list[FieldCorrection] | None = Field(
        None, max_length=MAX_CORRECTED_FIELDS, description=f"At most {MAX_CORRECTED_FIELDS} "
        "fields to set, each name once (a name sent twice is refused with "
        "422 duplicate_field); each replaces the fields of the same name and is kept "
        "as a label (source 'user', labeled_at). Where the value is printed in the text its "
        "evidence span is found (start/end, else -1), and the words printed before it (e.g. "
        "'Balance to remit') are learned: later documents of the same type, above all from the "
        "same issuer (the document's vendor), read that field after the same words (source "
        "'learned').")


@router.patch("/api/documents/{document_id}", response_model=DocumentDetail,
              responses=ERROR_RESPONSES, summary="Correct a document's type or fields")
def correct(document_id: str = Path(description="The document's id."),
            body: Correction = Body(...),
            state: ApiState = Depends(get_state)) -> DocumentDetail:
    """Set the document's type and/or fields. Both are kept as labels: types train the
    classifier, fields teach what to read after which words (see the body's description)."""
    with state.store.db.write() as session:
        doc = session.get(Document, document_id, with_for_update=True)
        if doc is None:
            raise not_found("document", document_id)
        names = [f.name for f in body.fields or []]
        if len(set(names)) < len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ApiError(422, "duplicate_field", f"Each field may be set once per request; "
                           f"{', '.join(map(repr, twice))} came more than once.")
        if body.doc_type is not None:
            if get_type(session, body.doc_type) is None:  # the tenant's own types only
                raise ApiError(422, "unknown_type", f"There is no document type "
                               f"{body.doc_type!r}; create it at /api/document-types first.")
            now = utcnow()
            doc.doc_type, doc.doc_type_confidence, doc.classifier = body.doc_type, 1.0, "user"
            doc.labeled_type, doc.labeled_at, doc.needs_review = body.doc_type, now, False
            doc.model_version = None
            doc.indexed = False  # the index filters by type: refresh it
        text = get_text(session, doc.sha256) if doc.status == DocumentStatus.COMPLETED else None
        if body.fields is not None:
            correct_fields(session, doc, [CorrectedField(f.name, f.value, f.normalized)
                                          for f in body.fields], text)
        elif body.doc_type is not None:
            refresh_labels(session, doc, text)  # its labels now teach the new type
        return detail_of(doc, text)


@router.post("/api/documents/{document_id}/cancel", response_model=DocumentDetail,
             responses={**ERROR_RESPONSES, 409: {"model": ErrorBody, "description":
                        "The document has already finished (finished)"}},
             summary="Cancel a document")
def cancel(document_id: str = Path(description="The document's id."),
           state: ApiState = Depends(get_state)) -> DocumentDetail:
    """Stop a queued or processing document: it ends `cancelled` (not failed); a worker reading
    it stops within a lease renewal. 409 when it has already finished."""
    with state.store.db.write() as session:
        if session.get(Document, document_id) is None:
            raise not_found("document", document_id)
        if not cancel_document(session, document_id):
            raise ApiError(409, "finished", "The document has already finished; there is "
                           "nothing to cancel.")
    with state.store.db.read() as session:
        doc = session.get(Document, document_id)
        assert doc is not None
        return detail_of(doc, None)
