"""User rules: "a document that mentions X is of type T", the way paperless-ngx's matching works.

Five kinds, each checked against the first `SCAN_CHARS` characters of a document:
- any: at least one of the words (a "quoted phrase" counts as one word);
- all: every one of the words;
- phrase: the exact phrase, on word boundaries;
- regex: a Python regular expression, searched anywhere, for at most `REGEX_TIMEOUT_S` seconds
  (run by the `regex` package, which can stop a search: a pattern that backtracks without end,
  like "(a+)+$", counts as no match and is logged instead of hanging the worker);
- fuzzy: the phrase, allowing typos and OCR slips (rapidfuzz partial ratio >= `threshold`).
Matching ignores case unless the rule says otherwise, and treats any run of whitespace as one
space, so a phrase broken across lines still matches.
"""

from __future__ import annotations

import logging
import re
import shlex
from dataclasses import dataclass, field
from enum import StrEnum

import regex

SCAN_CHARS = 50_000
DEFAULT_FUZZY_THRESHOLD = 85.0
REGEX_TIMEOUT_S = 0.1  # a user's regex gets this long per document; sane ones need microseconds

log = logging.getLogger(__name__)


class MatchKind(StrEnum):
    ANY = "any"
    ALL = "all"
    PHRASE = "phrase"
    REGEX = "regex"
    FUZZY = "fuzzy"


class InvalidRule(ValueError):
    """A user rule that can never run (a broken regex, nothing to match); say so when saved."""

    code = "invalid_rule"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class MatchRule:
    kind: MatchKind
    pattern: str
    case_sensitive: bool = False
    threshold: float = DEFAULT_FUZZY_THRESHOLD  # fuzzy only: 0..100
    _compiled: tuple[re.Pattern[str], ...] = field(default=(), init=False, repr=False,
                                                   compare=False)
    _regex: regex.Pattern[str] | None = field(default=None, init=False, repr=False,
                                              compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", MatchKind(self.kind))
        if not self.pattern.strip():
            raise InvalidRule("A rule needs something to match: the pattern is empty.")
        if not 0 <= self.threshold <= 100:
            raise InvalidRule("A fuzzy rule's threshold is a percentage from 0 to 100.")
        if self.kind is MatchKind.REGEX:
            object.__setattr__(self, "_regex", self._compile_regex())
        else:
            object.__setattr__(self, "_compiled", self._compile())

    def matches(self, text: str) -> bool:
        """Whether `text` satisfies the rule; `text` may be the whole document."""
        scanned = text[:SCAN_CHARS]
        if self._regex is not None:
            return self._search_regex(scanned)
        if self.kind is MatchKind.FUZZY:
            return self._fuzzy(scanned)
        if self.kind is MatchKind.ALL:
            return all(pattern.search(scanned) for pattern in self._compiled)
        return any(pattern.search(scanned) for pattern in self._compiled)

    def _compile_regex(self) -> regex.Pattern[str]:
        flags = regex.VERSION0 | (0 if self.case_sensitive else regex.IGNORECASE)
        try:
            return regex.compile(self.pattern, flags)
        except (regex.error, ValueError, OverflowError) as error:
            raise InvalidRule(f"The regular expression {self.pattern!r} is invalid: "
                              f"{error}.") from error

    def _search_regex(self, text: str) -> bool:
        try:
            return self._regex.search(text, timeout=REGEX_TIMEOUT_S) is not None
        except TimeoutError:
            log.warning("The regex rule %r took over %.1f s on a document and was skipped "
                        "(counted as no match); simplify the pattern.", self.pattern,
                        REGEX_TIMEOUT_S)
            return False

    def _compile(self) -> tuple[re.Pattern[str], ...]:
        flags = 0 if self.case_sensitive else re.IGNORECASE
        if self.kind is MatchKind.FUZZY:
            return ()
        terms = [self.pattern] if self.kind is MatchKind.PHRASE else _split_terms(self.pattern)
        return tuple(re.compile(_whole_words(term), flags) for term in terms)

    def _fuzzy(self, text: str) -> bool:
        from rapidfuzz import fuzz

        pattern, haystack = " ".join(self.pattern.split()), " ".join(text.split())
        if not self.case_sensitive:
            pattern, haystack = pattern.lower(), haystack.lower()
        return fuzz.partial_ratio(pattern, haystack, score_cutoff=self.threshold) > 0


def first_matching_rule(rules: tuple[MatchRule, ...], text: str) -> MatchRule | None:
    return next((rule for rule in rules if rule.matches(text)), None)


def _split_terms(pattern: str) -> list[str]:
    """Words of an any/all rule, keeping "quoted phrases" together."""
    try:
        terms = shlex.split(pattern)
    except ValueError:  # an unbalanced quote: take the words as they are
        terms = pattern.split()
    return [term for term in terms if term.strip()]


def _whole_words(term: str) -> str:
    words = [re.escape(word) for word in term.split()]
    head = r"(?<!\w)" if term[:1].isalnum() or term[:1] == "_" else ""
    tail = r"(?!\w)" if term[-1:].isalnum() or term[-1:] == "_" else ""
    return head + r"\s+".join(words) + tail
