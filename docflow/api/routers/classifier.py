"""/api/classifier: the tenant's trained document-type classifier and its training."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from docflow.api.errors import ERROR_RESPONSES, ApiError
from docflow.api.state import ApiState, get_state
from docflow.pipeline.classify.trained import NotEnoughLabels
from docflow.store.scope import current_tenant
from docflow.worker.training import labels_since, load_current, train_classifier

router = APIRouter(tags=["document types"])


class ClassifierOut(BaseModel):
    version: str | None = Field(description="The model workers use now for this tenant's "
                                "documents; null before training.")
    trained_on: int = Field(0, description="Labelled documents it learned from (this tenant's "
                            "alone).")
    label_counts: dict[str, int] = Field(default_factory=dict)
    new_labels: int = Field(description="This tenant's labels set since it was trained.")


@router.get("/api/classifier", response_model=ClassifierOut, responses=ERROR_RESPONSES,
            summary="The trained classifier")
def classifier(state: ApiState = Depends(get_state)) -> ClassifierOut:
    """The version of the tenant's trained classifier in use, when it was trained and on how
    many labelled documents, and how many labels came in since. Each tenant has its own."""
    tenant = current_tenant()
    model = load_current(state.store, state.settings, tenant)
    return ClassifierOut(version=model.version if model else None,
                         trained_on=model.trained_on if model else 0,
                         label_counts=model.label_counts if model else {},
                         new_labels=labels_since(state.store, state.settings, tenant))


@router.post("/api/classifier/train", response_model=ClassifierOut, responses=ERROR_RESPONSES,
             summary="Train the classifier now")
async def train(state: ApiState = Depends(get_state)) -> ClassifierOut:
    """Learn from every document of this tenant whose type a person set or confirmed (no other
    tenant's labels); its workers switch to the new version within seconds and store it with
    each prediction."""
    try:
        result = await run_in_threadpool(train_classifier, state.store, state.settings,
                                          current_tenant())
    except NotEnoughLabels as exc:
        raise ApiError(422, exc.code, str(exc)) from exc
    return ClassifierOut(version=result.version, trained_on=result.trained_on,
                         label_counts=result.label_counts, new_labels=0)
