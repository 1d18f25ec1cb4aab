"""/api/document-types: the kinds of document docflow sorts into, as data users can change.

Each tenant has its own types (store/document_types.py): another tenant's answer 404, exactly
as a name that was never made."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field

from docflow.api.errors import ERROR_RESPONSES, ApiError, ErrorBody, not_found
from docflow.api.state import ApiState, get_state
from docflow.pipeline.classify.matching import InvalidRule
from docflow.store.document_types import get_type, list_types, save_type
from docflow.store.models import DocumentType

router = APIRouter(tags=["document types"])

# Control, lone surrogate and unassigned code points: a name is shown and typed by people.
_UNPRINTABLE = {"Cc", "Cs", "Cn"}

_CONFLICT: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    409: {"model": ErrorBody, "description": "A type of that name exists (exists), or the type "
                                             "'other' cannot be deleted (required_type)"}}


MAX_TEXT = 10_000
MAX_ITEMS = 1_000
Weight = Annotated[float, Field(allow_inf_nan=False)]
Phrase = Annotated[str, Field(max_length=1_000)]


class Rule(BaseModel):
    kind: str = Field(max_length=20, description="any, all, phrase, regex or fuzzy.")
    pattern: str = Field(max_length=MAX_TEXT, description="Words (any/all), a phrase, a "
                         "regex, or text to match fuzzily.")
    case_sensitive: bool = False
    threshold: float = Field(85.0, ge=0, le=100, allow_inf_nan=False,
                             description="Fuzzy only: similarity 0-100.")


class DocumentTypeIn(BaseModel):
    description: str = Field("", max_length=MAX_TEXT, description="What the type is, in a "
                             "sentence (zero-shot classification reads it).")
    keywords: dict[Phrase, Weight] | list[Phrase] = Field(
        default_factory=dict, max_length=MAX_ITEMS, description="Phrases that give the type "
        "away, with weights 1-3, or a plain list.")
    rules: list[Rule] = Field(default_factory=list, max_length=MAX_ITEMS, description="A "
                              "document matching any rule gets this type, whatever the "
                              "classifiers say.")


class DocumentTypeCreate(DocumentTypeIn):
    name: str = Field(min_length=1, max_length=100)


class DocumentTypeOut(BaseModel):
    name: str
    description: str
    keywords: dict[str, float]
    rules: list[Rule]
    builtin: bool


def _out(row: DocumentType) -> DocumentTypeOut:
    return DocumentTypeOut(name=row.name, description=row.description, keywords=row.keywords,
                           rules=[Rule(**r) for r in row.rules], builtin=row.builtin)


@router.get("/api/document-types", response_model=list[DocumentTypeOut],
            responses=ERROR_RESPONSES, summary="List document types")
def all_types(state: ApiState = Depends(get_state)) -> list[DocumentTypeOut]:
    """Every document type the classifier chooses from for this tenant's documents: its copy
    of the built-in ones and its users' own."""
    with state.store.db.read() as session:
        return [_out(row) for row in list_types(session)]


@router.get("/api/document-types/{name}", response_model=DocumentTypeOut,
            responses=ERROR_RESPONSES, summary="One document type")
def one_type(name: str = Path(description="The type's name, e.g. invoice."),
             state: ApiState = Depends(get_state)) -> DocumentTypeOut:
    """A type's description, keywords (with weights) and rules."""
    with state.store.db.read() as session:
        row = get_type(session, name)
        if row is None:
            raise not_found("document type", name)
        return _out(row)


@router.put("/api/document-types/{name}", response_model=DocumentTypeOut,
            responses={**ERROR_RESPONSES, 201: {"model": DocumentTypeOut,
                                                "description": "The type was created"}},
            summary="Create or replace a document type")
def put_type(body: DocumentTypeIn, response: Response,
             name: str = Path(description="The type's name, e.g. invoice."),
             state: ApiState = Depends(get_state)) -> DocumentTypeOut:
    """Create the type or replace its description, keywords and rules (201 when new, 200 when
    replaced). Workers use the change within seconds; documents already typed keep theirs."""
    if not name.strip() or len(name) > 100 or any(unicodedata.category(c) in _UNPRINTABLE
                                                  for c in name):
        raise ApiError(422, "invalid_request", "A type name is 1 to 100 printable characters.")
    rules: list[dict[str, Any]] = [r.model_dump() for r in body.rules]
    try:
        with state.store.db.write() as session:
            existed = get_type(session, name) is not None
            row = save_type(session, name, body.description, body.keywords, rules,
                            state.settings.rule_limits)
            out = _out(row)
    except InvalidRule as exc:
        raise ApiError(422, exc.code, str(exc)) from exc
    except ValueError as exc:  # an unknown rule kind
        raise ApiError(422, "invalid_rule", f"The rule is not valid: {exc}") from exc
    response.status_code = 200 if existed else 201
    return out


@router.post("/api/document-types", response_model=DocumentTypeOut, status_code=201,
             responses=_CONFLICT, summary="Create a document type")
def post_type(body: DocumentTypeCreate, response: Response,
              state: ApiState = Depends(get_state)) -> DocumentTypeOut:
    """Create a type; 409 when one of that name exists (PUT replaces one)."""
    with state.store.db.read() as session:
        if get_type(session, body.name) is not None:
            raise ApiError(409, "exists", f"A document type named {body.name!r} exists; use "
                           "PUT to change it.")
    return put_type(body, response, body.name, state)


@router.delete("/api/document-types/{name}", status_code=204, responses=_CONFLICT,
               summary="Delete a document type")
def delete_type(name: str = Path(description="The type's name, e.g. invoice."),
                state: ApiState = Depends(get_state)) -> Response:
    """Delete a type; `other` cannot be deleted. Documents of that type keep it as a label."""
    if name == "other":
        raise ApiError(409, "required_type", "The type 'other' cannot be deleted: documents "
                       "that match no type get it.")
    with state.store.db.write() as session:
        row = get_type(session, name)
        if row is None:
            raise not_found("document type", name)
        session.delete(row)
    return Response(status_code=204)
