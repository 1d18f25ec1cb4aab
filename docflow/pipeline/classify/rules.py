"""Keywords: weighted phrase hits per document type, normalised into a confidence.

All phrases of all types are compiled into one trie-shaped regex, so a document is scanned once
and each position tries only the phrases that can start with its character.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from ..types import Classification
from .doc_types import DEFAULT_DOC_TYPES, OTHER, DocType

SCAN_CHARS = 8_000  # the type of a document shows in its first pages; keeps long texts fast
HEAD_CHARS = 400  # documents often name their own type in the title: count those hits twice
TITLE_WEIGHT = 1.5  # ...but only strong phrases: "Change" in a first sentence is no title
DECIDER = "keywords"
# Below this the best type is a guess, and "other" is the honest answer; 3.5 gives the best
# F1 of "other" on held-out types of both benchmark sets (bench/eval_classify.py).
MIN_SCORE = 3.5
_EVIDENCE_SCALE = 6.0  # score at which evidence reaches 1 - 1/e
_MAX_OTHER_CONFIDENCE = 0.9


class RulesClassifier:
    """Classify text against a fixed set of types; build once, call `classify` many times."""

    def __init__(self, doc_types: Sequence[DocType] = DEFAULT_DOC_TYPES) -> None:
        self.doc_types = tuple(doc_types)
        self._weights: dict[str, list[tuple[int, float]]] = {}
        for index, doc_type in enumerate(self.doc_types):
            for phrase, weight in doc_type.keywords.items():
                self._weights.setdefault(_canonical(phrase), []).append((index, weight))
        self._pattern = _phrase_pattern(self._weights)

    def scores(self, text: str) -> dict[str, float]:
        """Weighted evidence per type name (0 where nothing matched)."""
        lowered = _join_spaced_letters(text[:SCAN_CHARS]).lower()
        counts = Counter(self._pattern.findall(lowered))  # findall + Counter stay in C: fast
        near_top = set(self._pattern.findall(lowered, 0, HEAD_CHARS))
        for found in [phrase for phrase in counts if phrase not in self._weights]:
            counts[_canonical(found)] += counts.pop(found)  # "bill\n to" counts as "bill to"
            if found in near_top:
                near_top.add(_canonical(found))
        totals = [0.0] * len(self.doc_types)
        for phrase, count in counts.items():
            # Repeats add a little, distinct phrases add a lot: one word said ten times is weak.
            repeat = 1 + 0.25 * min(count - 1, 4)
            for index, weight in self._weights[phrase]:
                title = weight >= TITLE_WEIGHT and phrase in near_top
                totals[index] += weight * (repeat + 1 if title else repeat)
        names = (doc_type.name for doc_type in self.doc_types)
        return dict(zip(names, totals, strict=True))

    def classify(self, text: str) -> Classification:
        scores = self.scores(text)
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        best_name, best = ranked[0] if ranked else (OTHER, 0.0)
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        evidence = 1 - math.exp(-best / _EVIDENCE_SCALE)
        total = sum(scores.values()) or 1.0
        top = tuple((name, round(evidence * score / total, 3)) for name, score in ranked[:3]
                    if score > 0)
        if best < MIN_SCORE:
            confidence = min(_MAX_OTHER_CONFIDENCE, 1 - evidence)
            return Classification(OTHER, round(confidence, 3), DECIDER, scores=top)
        margin = (best - runner_up) / best  # a near tie halves the confidence
        confidence = evidence * (0.5 + 0.5 * margin)
        return Classification(best_name, round(confidence, 3), DECIDER, scores=top)


_SINGLE_CHARS = re.compile(r"(?<!\S)\S(?!\S)")
_WORD_GAP = re.compile(r" {2,}")  # in letter-spaced text, words are split by two spaces


def _join_spaced_letters(text: str) -> str:
    """Undo "I n v o i c e  n u m b e r", which some PDF producers emit for every word."""
    head = text[:2000]
    if len(_SINGLE_CHARS.findall(head)) < 0.3 * len(head):  # normal prose: about 0.02
        return text
    return " ".join(word.replace(" ", "") for word in _WORD_GAP.split(text))


def _canonical(phrase: str) -> str:
    return " ".join(phrase.lower().split())


def _phrase_pattern(phrases: dict[str, object]) -> re.Pattern[str]:
    """One regex matching any phrase, longest first, whole words only, any whitespace between."""
    if not phrases:
        return re.compile(r"(?!)")  # types without keywords: nothing to find
    trie: dict = {}
    for phrase in phrases:
        node = trie
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = phrase  # end marker remembers the phrase, to guard its last character
    return re.compile(r"(?<!\w)" + _trie_regex(trie))


def _trie_regex(node: dict) -> str:
    branches = []
    for char, child in sorted(node.items(), key=lambda item: item[0], reverse=True):
        if char == "":
            continue
        head = r"\s+" if char == " " else re.escape(char)
        branches.append(head + _trie_regex(child))
    if "" in node:  # a phrase ends here; try the longer phrases first, then this one
        branches.append(r"(?!\w)" if node[""][-1].isalnum() or node[""][-1] == "_" else "")
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


_DEFAULT = RulesClassifier()


def classify(text: str) -> Classification:
    """The most likely default type of `text`, or "other" when no type has enough evidence."""
    return _DEFAULT.classify(text)
