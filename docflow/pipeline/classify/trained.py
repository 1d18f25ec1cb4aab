"""A classifier learned from the user's own labels: TF-IDF features, then multinomial
logistic regression, whose probabilities are the confidence of each prediction.

Features, two blocks each normalised to unit length: lower-cased words and word pairs, and
words as written (case kept), since how a document is set shows its kind too (a till receipt
is printed in capitals). Chosen by 5-fold cross-validation on the training part of
doctype_composite: macro-F1 0.959 lower-cased only, 0.981 with the case-kept words; bbc_news
0.981 and 0.984 (bench/eval_classify.py).

A model is fitted from (text, label) pairs, saved to a directory and loaded back with its
version. Nothing is pickled: the vocabulary, IDF weights and coefficients are stored as JSON and
NumPy arrays, so loading a model runs no code from disk and survives scikit-learn upgrades.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path

import numpy as np

FORMAT = 1
TRAIN_CHARS = 6_000  # a type shows on the first pages; keeps prediction fast on long documents
_WORD = r"(?u)\b\w\w+\b"  # scikit-learn's default: words of two or more characters
# The same words, found faster: a greedy run of 2+ word characters is bounded by non-words.
_TOKEN = re.compile(r"\w\w+")


class ClassifierError(ValueError):
    """Training or loading failed for a reason a person can fix; `code` is stable."""

    code = "classifier_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotEnoughLabels(ClassifierError):
    code = "not_enough_labels"


class ModelUnreadable(ClassifierError):
    code = "model_unreadable"


@dataclass(frozen=True)
class TypeProbability:
    doc_type: str
    probability: float


@dataclass(frozen=True)
class _Weights:
    vocabulary: dict[str, int]  # lower-cased word or word pair -> column
    cased_vocabulary: dict[str, int]  # word as written -> column after the first block
    idf: np.ndarray  # [terms of both blocks]
    coef: np.ndarray  # [types, terms], or [1, terms] for two types
    intercept: np.ndarray  # [types] or [1]


class TrainedClassifier:
    """Build with `fit` or `load`; `probabilities(texts)` ranks every known type per text.

    scikit-learn fits the model; predicting needs only its arrays (see `_scores`).
    """

    def __init__(self, weights: _Weights, meta: dict) -> None:
        self.version: str = meta["version"]
        self.labels: tuple[str, ...] = tuple(meta["labels"])
        self.trained_on: int = meta["trained_on"]
        self.label_counts: dict[str, int] = dict(meta["label_counts"])
        self.created_at: str = meta["created_at"]
        self._weights = weights
        self._idf = np.asarray(weights.idf, dtype=np.float64)
        coef = np.asarray(weights.coef, dtype=np.float64)
        if coef.shape != (1 if len(self.labels) == 2 else len(self.labels), len(self._idf)):
            raise ModelUnreadable(f"The classifier {self.version} has inconsistent weights.")
        self._term_coef = np.ascontiguousarray(coef.T)  # one row per term: gathers are cheap
        self._intercept = np.asarray(weights.intercept, dtype=np.float64)
        self._terms = _TermIndex(weights.vocabulary)
        self._cased_columns = weights.cased_vocabulary
        self._cased_from = len(weights.vocabulary)  # the first column of the case-kept block

    @classmethod
    def fit(
        cls, texts: Sequence[str], labels: Sequence[str], *, version: str | None = None
    ) -> TrainedClassifier:
        """Learn from labelled texts; at least two types, each with at least one text."""
        from scipy import sparse as scipy_sparse
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        if len(texts) != len(labels):
            raise ClassifierError("Each training text needs exactly one label.")
        counts = Counter(labels)
        if len(counts) < 2:
            raise NotEnoughLabels(
                "Training needs documents of at least two types; label a few more documents."
            )
        prepared = [_prepare(text) for text in texts]
        big = len(texts) >= 50  # a term seen in one document only is noise in a big set

        def block(lowercase: bool, pairs: bool) -> TfidfVectorizer:
            return TfidfVectorizer(
                token_pattern=_WORD,
                lowercase=lowercase,
                ngram_range=(1, 2 if pairs else 1),
                min_df=2 if big else 1,
                max_df=0.9 if big else 1.0,
                sublinear_tf=True,
                max_features=200_000,
                dtype=np.float32,
            )

        lower, cased = block(lowercase=True, pairs=True), block(lowercase=False, pairs=False)
        try:
            features = scipy_sparse.hstack(
                [lower.fit_transform(prepared), cased.fit_transform(prepared)]
            ).tocsr()
        except ValueError as error:  # no word of two letters or more in any text
            raise NotEnoughLabels("The labelled documents have no words to learn from.") from error
        model = LogisticRegression(C=20.0, max_iter=3000, class_weight="balanced")
        model.fit(features, list(labels))
        digest = hashlib.sha256()
        for text, label in zip(texts, labels, strict=True):
            digest.update(label.encode() + b"\0" + text.encode("utf-8", "replace") + b"\0")
        created = datetime.now(UTC)
        meta = {
            "format": FORMAT,
            "version": version or f"{created:%Y%m%dT%H%M%S}-{digest.hexdigest()[:8]}",
            "labels": [str(label) for label in model.classes_],
            "trained_on": len(texts),
            "label_counts": dict(sorted(counts.items())),
            "created_at": created.isoformat(timespec="seconds"),
        }
        offset = len(lower.vocabulary_)
        weights = _Weights(
            vocabulary={term: int(column) for term, column in lower.vocabulary_.items()},
            cased_vocabulary={
                term: offset + int(column) for term, column in cased.vocabulary_.items()
            },
            idf=np.concatenate([lower.idf_, cased.idf_]),
            coef=model.coef_,
            intercept=model.intercept_,
        )
        return cls(weights, meta)

    def probabilities(self, texts: Sequence[str]) -> list[list[TypeProbability]]:
        """Per text, every known type with its probability, most likely first."""
        return [self._rank(self._scores(text)) for text in texts]

    def _scores(self, text: str) -> np.ndarray:
        """predict_proba of the fitted model, computed directly: scikit-learn's per-call checks
        cost more than the arithmetic for one document."""
        written = _TOKEN.findall(_prepare(text))
        cased = np.fromiter(map(self._cased_columns.get, written, repeat(-1)), dtype=np.int64,
                            count=len(written))
        columns = np.concatenate([self._terms.columns(list(map(str.lower, written))), cased])
        # Both blocks at once: the case-kept columns all come after the lower-cased ones.
        index, counts = np.unique(columns[columns >= 0], return_counts=True)
        weights = (1 + np.log(counts)) * self._idf[index]  # sublinear tf
        split = np.searchsorted(index, self._cased_from)
        for block in (weights[:split], weights[split:]):
            if len(block):
                block /= np.linalg.norm(block)  # each block has unit length, as in training
        logits = self._intercept + weights @ self._term_coef[index]
        if len(logits) == 1:  # two types: one logit, for the second type
            positive = 1 / (1 + np.exp(-logits[0]))
            return np.array([1 - positive, positive])
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()

    def _rank(self, row: np.ndarray) -> list[TypeProbability]:
        return [
            TypeProbability(self.labels[i], round(float(row[i]), 4))
            for i in np.argsort(-row, kind="stable")
        ]

    def save(self, directory: Path) -> Path:
        """Write the model into `directory` (created; replaced whole if it exists)."""
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=directory.parent))
        try:
            weights = self._weights
            vocabularies = {"words": weights.vocabulary, "cased": weights.cased_vocabulary}
            (staging / "vocabulary.json").write_text(json.dumps(vocabularies, ensure_ascii=False))
            np.savez_compressed(
                staging / "weights.npz",
                idf=np.asarray(weights.idf, dtype=np.float32),
                coef=np.asarray(weights.coef, dtype=np.float32),
                intercept=np.asarray(weights.intercept, dtype=np.float32),
            )
            meta = {
                "format": FORMAT,
                "version": self.version,
                "labels": list(self.labels),
                "trained_on": self.trained_on,
                "label_counts": self.label_counts,
                "created_at": self.created_at,
                "features": "tf-idf (sublinear, l2 per block): lower-cased words and pairs; "
                "words as written",
            }
            (staging / "meta.json").write_text(json.dumps(meta, indent=2))
            if directory.exists():
                shutil.rmtree(directory)
            os.rename(staging, directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return directory

    @classmethod
    def load(cls, directory: Path) -> TrainedClassifier:
        """A model written by `save`; raises ModelUnreadable when it is missing or damaged."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / "meta.json").read_text())
            if meta.get("format") != FORMAT:
                raise ModelUnreadable(
                    f"The classifier in {directory} has format {meta.get('format')}, this "
                    f"docflow reads format {FORMAT}: train it again."
                )
            vocabularies = json.loads((directory / "vocabulary.json").read_text())
            vocabulary, cased = vocabularies["words"], vocabularies["cased"]
            with np.load(directory / "weights.npz") as weights:
                idf, coef, intercept = weights["idf"], weights["coef"], weights["intercept"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            if isinstance(error, ModelUnreadable):
                raise
            raise ModelUnreadable(
                f"The classifier in {directory} cannot be read ({error}); train it again."
            ) from error
        return cls(_Weights(vocabulary, cased, idf, coef, intercept), meta)


def _prepare(text: str) -> str:
    return text[:TRAIN_CHARS]


class _TermIndex:
    """The lower-cased block's vocabulary (words and word pairs) as arrays, so a document's
    columns come from one dictionary look-up per word and a vectorised search for its pairs,
    not a string and a look-up per pair."""

    def __init__(self, vocabulary: dict[str, int]) -> None:
        words: dict[str, int] = {}
        pairs = [(term.split(" "), column) for term, column in vocabulary.items() if " " in term]
        for term in [term for term in vocabulary if " " not in term]:
            words.setdefault(term, len(words))
        for (first, second), _ in pairs:
            words.setdefault(first, len(words))
            words.setdefault(second, len(words))
        self._words = words
        self._size = max(len(words), 1)
        self._word_columns = np.full(len(words), -1, dtype=np.int64)
        for term, column in vocabulary.items():
            if " " not in term:
                self._word_columns[words[term]] = column
        keys = np.fromiter((words[first] * self._size + words[second]
                            for (first, second), _ in pairs), dtype=np.int64, count=len(pairs))
        order = np.argsort(keys)
        self._pair_keys = keys[order]
        self._pair_columns = np.fromiter((column for _, column in pairs), dtype=np.int64,
                                         count=len(pairs))[order]

    def columns(self, tokens: list[str]) -> np.ndarray:
        """The column of every word and word pair in `tokens` that the vocabulary holds, once
        per occurrence (-1 for the rest)."""
        ids = np.fromiter(map(self._words.get, tokens, repeat(-1)), dtype=np.int64,
                          count=len(tokens))
        known = ids[ids >= 0]
        word_columns = self._word_columns[known]
        both = (ids[:-1] >= 0) & (ids[1:] >= 0)
        keys = ids[:-1][both] * self._size + ids[1:][both]
        if not len(self._pair_keys) or not len(keys):
            return word_columns
        at = np.minimum(np.searchsorted(self._pair_keys, keys), len(self._pair_keys) - 1)
        found = self._pair_keys[at] == keys
        return np.concatenate([word_columns, self._pair_columns[at[found]]])
