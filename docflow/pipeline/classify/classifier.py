"""The document classifier: several deciders asked in a fixed order, the first sure one wins.

Order (each decider is skipped when it is not configured):
1. user_rules - a type's own rules (any/all/phrase/regex/fuzzy). The user said so: confidence 1.
   When rules of several types match, the later deciders pick among those types only. All
   rules share one time budget per document (`rules_budget_seconds`).
2. trained    - the model learned from the user's labels, if its probability >= `trained_min`;
   skipped when the keywords clearly name a type the model was never taught.
3. llm        - the configured language model, if it answers with confidence >= `llm_min`.
4. zero_shot  - sentence embeddings + keywords of each type, if confidence >= `zero_shot_min`.
5. keywords   - weighted keyword hits of each type, if confidence >= `keywords_min`; "other"
   when no type has enough keyword evidence.
If no decider is sure, the most confident answer that names a type is returned (its low
confidence flags it for review); "other" only when no decider named a type.
Steps 1, 2 and 5 are the fast path (no model inference).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from ..types import Classification
from .doc_types import DEFAULT_DOC_TYPES, OTHER, DocType
from .embeddings import SentenceEncoder
from .llm import LlmClassifier
from .matching import DEFAULT_RULES_BUDGET_S, match_types
from .rules import RulesClassifier
from .trained import TrainedClassifier
from .zero_shot import ZeroShotClassifier

USER_RULES = "user_rules"
TRAINED = "trained"
_TIED_RULES_CONFIDENCE = 0.9  # rules of two types matched; a decider broke the tie


@dataclass(frozen=True)
class Thresholds:
    """How sure each decider must be for its answer to stand without asking the next one."""

    # 0.6, not 0.5: documents of a type the model never saw come out "other" twice as often
    # (held-out F1 0.31 -> 0.52, 0.55 -> 0.67) for at most 0.6 points of accuracy on the known
    # types (bench/eval_classify.py, "'other' on a held-out type"; bench/README.md).
    trained_min: float = 0.6
    llm_min: float = 0.5
    zero_shot_min: float = 0.4
    keywords_min: float = 0.5
    review_below: float = 0.6  # answers less sure than this are flagged for a person to check


def needs_review(result: Classification, below: float = Thresholds.review_below) -> bool:
    """Whether a person should confirm this answer (a user's rule never needs it)."""
    return result.decider != USER_RULES and result.confidence < below


class DocumentClassifier:
    """Build once per process (and again when the types or the trained model change)."""

    def __init__(
        self,
        doc_types: Sequence[DocType] = DEFAULT_DOC_TYPES,
        *,
        trained: TrainedClassifier | None = None,
        encoder: SentenceEncoder | None = None,
        llm: LlmClassifier | None = None,
        thresholds: Thresholds = Thresholds(),
        zero_shot: bool = True,
        rules_budget_seconds: float = DEFAULT_RULES_BUDGET_S,
    ) -> None:
        self.doc_types = tuple(doc_types)
        self.thresholds = thresholds
        self.rules_budget_seconds = rules_budget_seconds
        self._typed_rules = tuple((t.name, t.rules) for t in self.doc_types if t.rules)
        self.trained = trained
        self.encoder = encoder
        self.llm = llm
        self._names = {doc_type.name for doc_type in self.doc_types}
        self._keywords = RulesClassifier(self.doc_types)
        # The encoder may be there for search alone: zero-shot typing is a choice of its own.
        self._zero_shot = (ZeroShotClassifier(self.doc_types, encoder)
                           if encoder and zero_shot else None)

    def needs_review(self, result: Classification) -> bool:
        """Whether a person should confirm this answer (a user's rule never needs it)."""
        return needs_review(result, self.thresholds.review_below)

    def embed(self, text: str) -> np.ndarray | None:
        """The document's embedding (None without an encoder); pass it to `classify`."""
        return self.encoder.embed_one(text) if self.encoder else None

    def embed_passages(self, text: str, whole: np.ndarray | None = None) -> np.ndarray | None:
        """The text's passage embeddings for search (None without an encoder); `whole` is
        `embed(text)`, reused for a short text."""
        return self.encoder.embed_passages(text, whole=whole) if self.encoder else None

    def classify(self, text: str, embedding: np.ndarray | None = None) -> Classification:
        ruled = list(match_types(self._typed_rules, text, self.rules_budget_seconds).matched)
        if len(ruled) == 1:
            return Classification(ruled[0], 1.0, USER_RULES)
        allowed = set(ruled) if ruled else self._names | {OTHER}
        keywords = cache(lambda: self._keywords.classify(text))
        answers: list[Classification] = []
        for decide, minimum in self._deciders(text, embedding, keywords):
            answer = _within(decide(), allowed)
            if answer is None:
                continue
            if answer.confidence >= minimum:
                return _tied(answer) if ruled else answer
            answers.append(answer)
        if not answers:  # rules of several types matched and no decider knew any of them
            return Classification(ruled[0], _TIED_RULES_CONFIDENCE, USER_RULES)
        named = [answer for answer in answers if answer.doc_type != OTHER]
        best = max(named or answers, key=lambda answer: answer.confidence)
        return _tied(best) if ruled else best

    def _deciders(
        self, text: str, embedding: np.ndarray | None, keywords: Callable[[], Classification]
    ) -> Iterator[tuple[Callable[[], Classification | None], float]]:
        limits = self.thresholds
        if self.trained is not None:
            yield (lambda: self._trained(text, keywords)), limits.trained_min
        if self.llm is not None:
            yield (lambda: self.llm.classify(text)), limits.llm_min
        if self._zero_shot is not None:
            yield (lambda: self._zero_shot.classify(text, embedding)), limits.zero_shot_min
        yield keywords, limits.keywords_min

    def _trained(
        self, text: str, keywords: Callable[[], Classification]
    ) -> Classification | None:
        untaught = self._names - set(self.trained.labels)
        if untaught:  # the model cannot speak for types it never saw: their keywords may
            said = keywords()
            if said.doc_type in untaught and said.confidence >= self.thresholds.keywords_min:
                return None
        ranked = [p for p in self.trained.probabilities([text])[0] if p.doc_type in self._names]
        if not ranked:
            return None
        top = tuple((p.doc_type, p.probability) for p in ranked[:3])
        return Classification(ranked[0].doc_type, ranked[0].probability, TRAINED,
                              model_version=self.trained.version, scores=top)


def _within(answer: Classification | None, allowed: set[str]) -> Classification | None:
    """The answer if it names an allowed type, else its best allowed candidate, else None."""
    if answer is None or answer.doc_type in allowed:
        return answer
    candidates = [(name, score) for name, score in answer.scores if name in allowed]
    if not candidates:
        return None
    name, score = candidates[0]
    return replace(answer, doc_type=name, confidence=score)


def _tied(answer: Classification) -> Classification:
    return replace(answer, confidence=max(answer.confidence, _TIED_RULES_CONFIDENCE),
                   decider=f"{USER_RULES}+{answer.decider}")
