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

All user rules of all types share one time budget per document (`match_types`): rules not
reached in time count as no match, so many slow rules cannot hold a worker for minutes. The
number of rules per type and the length of a pattern are capped when a type is saved
(`RuleLimits.check`) and again when types are loaded (`RuleLimits.trim`).
"""

from __future__ import annotations

import logging
import re
import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import regex

SCAN_CHARS = 50_000
DEFAULT_FUZZY_THRESHOLD = 85.0
REGEX_TIMEOUT_S = 0.1  # a user's regex gets this long per document; sane ones need microseconds
DEFAULT_RULES_BUDGET_S = 1.0  # all rules of all types together, per document
DEFAULT_MAX_RULES_PER_TYPE = 100
DEFAULT_MAX_PATTERN_CHARS = 1000

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

    def matches(self, text: str, timeout: float = REGEX_TIMEOUT_S) -> bool:
        """Whether `text` satisfies the rule; `text` may be the whole document. A regex rule
        searches for at most `timeout` seconds (and counts as no match past it)."""
        scanned = text[:SCAN_CHARS]
        if self._regex is not None:
            return self._search_regex(scanned, min(timeout, REGEX_TIMEOUT_S))
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

    def _search_regex(self, text: str, timeout: float) -> bool:
        assert self._regex is not None
        try:
            return self._regex.search(text, timeout=timeout) is not None
        except TimeoutError:
            if timeout >= REGEX_TIMEOUT_S:  # cut short by the document's budget: said there
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


@dataclass(frozen=True)
class RulesVerdict:
    """Which types' rules matched one document, and whose rules the time budget cut off."""

    matched: tuple[str, ...]
    skipped: tuple[str, ...]  # types with rules not run (or cut short): counted as no match
    rules_run: int  # rules started within the budget
    seconds: float


def match_types(typed_rules: Sequence[tuple[str, tuple[MatchRule, ...]]], text: str,
                budget_seconds: float = DEFAULT_RULES_BUDGET_S,
                clock: Callable[[], float] = time.monotonic) -> RulesVerdict:
    """The names of the types (in order) with a rule that matches `text`, all rules of all types
    sharing `budget_seconds`; rules past the budget count as no match, logged once."""
    start = clock()
    deadline = start + budget_seconds
    matched: list[str] = []
    skipped: list[str] = []
    run = 0
    for name, rules in typed_rules:
        for rule in rules:
            left = deadline - clock()
            if left <= 0:
                skipped.append(name)
                break
            run += 1
            if rule.matches(text, timeout=left):
                matched.append(name)
                break
            if rule.kind is MatchKind.REGEX and clock() >= deadline:
                skipped.append(name)  # this search itself was cut off by the budget
                break
    verdict = RulesVerdict(tuple(matched), tuple(skipped), run, clock() - start)
    if skipped:
        log.warning("User rules ran past their budget of %.1f s on a document after %d rules; "
                    "the rules of %d types were skipped (counted as no match): %s. Simplify "
                    "slow regex rules or use fewer rules.", budget_seconds, run, len(skipped),
                    ", ".join(skipped))
    return verdict


@dataclass(frozen=True)
class RuleLimits:
    """How many rules a type may have and how long a pattern may be."""

    max_rules_per_type: int = DEFAULT_MAX_RULES_PER_TYPE
    max_pattern_chars: int = DEFAULT_MAX_PATTERN_CHARS

    def check(self, patterns: Sequence[str]) -> None:
        """Raise InvalidRule when a type's rules (their patterns) exceed the limits; checked
        before any pattern is compiled, so an oversized request costs nothing."""
        if len(patterns) > self.max_rules_per_type:
            raise InvalidRule(f"A type may have at most {self.max_rules_per_type} rules; this "
                              f"one has {len(patterns)}. Combine words into any/all rules.")
        for pattern in patterns:
            if len(pattern) > self.max_pattern_chars:
                raise InvalidRule(f"A rule's pattern may be at most {self.max_pattern_chars} "
                                  f"characters; one has {len(pattern)}.")

    def trim(self, name: str, rules: Sequence[MatchRule]) -> tuple[MatchRule, ...]:
        """The rules within the limits (for types saved before them), saying what was left out."""
        kept = tuple(r for r in rules if len(r.pattern) <= self.max_pattern_chars)
        if len(kept) < len(rules):
            log.warning("document type %s: %d rules with patterns over %d characters are "
                        "ignored", name, len(rules) - len(kept), self.max_pattern_chars)
        if len(kept) > self.max_rules_per_type:
            log.warning("document type %s: only its first %d of %d rules are used", name,
                        self.max_rules_per_type, len(kept))
            kept = kept[:self.max_rules_per_type]
        return kept


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
