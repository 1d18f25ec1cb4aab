"""POST /api/document-types/test-rule: does a rule match this document, before saving it?"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from docflow.api.errors import ERROR_RESPONSES, ApiError, not_found
from docflow.api.routers.document_types import Rule
from docflow.api.state import ApiState, get_state
from docflow.pipeline.classify.matching import InvalidRule, MatchRule
from docflow.store import Document
from docflow.store.documents import get_text

router = APIRouter(tags=["document types"])


class RuleTest(BaseModel):
    rule: Rule
    document_id: str | None = Field(None, description="Test against this document's text.")
    text: str | None = Field(None, max_length=1_000_000, description="Or against this text.")


class RuleTestResult(BaseModel):
    matched: bool
    text_chars: int = Field(description="Characters of text the rule was tried on.")


@router.post("/api/document-types/test-rule", response_model=RuleTestResult,
             responses=ERROR_RESPONSES, summary="Try a rule against a document")
def test_rule(body: RuleTest, state: ApiState = Depends(get_state)) -> RuleTestResult:
    """Whether the rule would match a completed document's text (or the text given), as the
    classifier would run it; nothing is saved."""
    limits = state.settings.rule_limits
    try:
        limits.check([body.rule.pattern])
        rule = MatchRule(**body.rule.model_dump())
    except InvalidRule as exc:
        raise ApiError(422, exc.code, str(exc)) from exc
    except ValueError as exc:  # an unknown rule kind
        raise ApiError(422, "invalid_rule", f"The rule is not valid: {exc}") from exc
    text = body.text
    if body.document_id is not None:
        with state.store.db.read() as session:
            doc = session.get(Document, body.document_id)
            if doc is None:
                raise not_found("document", body.document_id)
            text = get_text(session, doc.sha256)
        if text is None:
            raise ApiError(409, "no_text", "The document has no text yet: it has not completed.")
    if text is None:
        raise ApiError(422, "invalid_request", "Give a document_id or a text.")
    return RuleTestResult(matched=rule.matches(text), text_chars=len(text))
