"""What a user types into the search box, read once for every backend, so that a query means the
same thing on tantivy and on PostgreSQL.

Syntax: words, "phrases", prefix*, +required, -excluded (or NOT), AND / OR (AND binds first),
(groups), and the fields text: and filename:. Words match by any of them: BM25 ranks documents
that hold more of the words, and rarer ones, higher. Documents holding all of the query's words,
and then the query as a phrase, rank first (`KeywordQuery.bonus`), so `late payment` puts
exact matches on top. English stop words (PostgreSQL's list: "what", "are", "the") are not
searched unless the query has no other word: a question ranks by what it is about (Cranfield
nDCG@10 0.515 -> 0.527, bench/eval_search.py).

Reading never fails: a character that is no syntax here separates words, an unclosed quote or
parenthesis ends with the query, and any field name but text and filename is a word
("Re: invoice").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Union

# Leaves (words, phrases, prefixes) read from one query; the rest add cost, not recall.
MAX_TERMS = 64
# Parentheses deeper than this are read as separators (backends recurse per level).
MAX_NESTING = 16
# BM25 gives one word at most (k1 + 1) * idf in each of the two fields, idf <= ln(1 + 10^12):
# a bonus of this much per query word lifts a tier above any score the words alone can reach.
BONUS_PER_WORD = 125.0
FIELDS = ("text", "filename")

# PostgreSQL's english.stop (Snowball): the words its 'english' configuration never indexes.
_STOP_LIST = """
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she
her hers herself it its itself they them their theirs themselves what which who whom this that
these those am is are was were be been being have has had having do does did doing a an the and
but if or because as until while of at by for with about against between into through during
before after above below to from up down in out on off over under again further then once here
there when where why how all any both each few more most other some such no nor not only own
same so than too very s t can will just don should now
"""
STOP_WORDS = frozenset(_STOP_LIST.split())

_WORD = re.compile(r"\w+")
# Inside a signed run of text these join words into a phrase ("-e-mail", "+10:30");
# anything else between words separates them.
_SPLIT = re.compile(r"[^\w\-.:/@'’]+")
_FIELD = re.compile(r"(text|filename):(.*)", re.DOTALL)
_OPERATORS = {"AND": "and", "&&": "and", "OR": "or", "||": "or", "NOT": "not"}


class Occur(Enum):
    SHOULD = "should"  # may match; scores when it does (a group needs one if it has no MUST)
    MUST = "must"
    MUST_NOT = "must_not"


@dataclass(frozen=True)
class Terms:
    """A leaf: one word, a phrase (its words in order), or a prefix (one word, `prefix=True`)."""

    words: tuple[str, ...]
    prefix: bool = False
    field: str | None = None  # "text" or "filename"; None: either


@dataclass(frozen=True)
class Group:
    """Matches when every MUST clause matches, no MUST_NOT clause does, and, without MUST
    clauses, at least one SHOULD clause does (only MUST_NOT clauses: every other document)."""

    clauses: tuple[tuple[Occur, Node], ...] = ()


Node = Union[Terms, Group]  # noqa: UP007 (a runtime alias, read before annotations are)


@dataclass(frozen=True)
class KeywordQuery:
    root: Group
    ranked: tuple[Terms, ...] = ()  # the leaves that may match (not excluded): BM25 scores them
    phrase: tuple[str, ...] = ()  # the query's words in order, stop words too: the phrase tier
    everything: bool = False  # a blank query (or "*"): every document, in no particular order

    @property
    def bonus(self) -> float:
        """What holding all the words, and what holding the phrase, each add to a score."""
        return BONUS_PER_WORD * max(1, sum(len(t.words) for t in self.ranked))

    @property
    def all_words(self) -> bool:
        """Whether holding all the words is a tier of its own (more than one leaf)."""
        return len(self.ranked) > 1


def read_query(query: str) -> KeywordQuery:
    """The query as the backends search it. A blank query (or "*") lists every document;
    syntax that cannot mean anything is read as words."""
    query = query.replace("\x00", " ")
    if query.strip() in ("", "*"):
        return KeywordQuery(root=Group(), everything=True)
    root = _Reader(_tokens(query)).group(depth=0)
    phrase = _phrase_words(root)
    if any(not _is_stop_word(t) for t in _leaves(root, positive_only=True)):
        root = _without_stop_words(root) or Group()
    ranked = tuple(dict.fromkeys(_leaves(root, positive_only=True)))
    return KeywordQuery(root=root, ranked=ranked, phrase=phrase)


def plain_words(query: str) -> KeywordQuery:
    """Any of the query's words, no syntax: what a backend searches when a reading cannot run."""
    words = list(dict.fromkeys(_WORD.findall(query)))[:MAX_TERMS]
    return read_query(" ".join(w for w in words if w not in _OPERATORS))


# -- reading ------------------------------------------------------------------------------------

@dataclass
class _Token:
    kind: str  # "open", "close", "op", "terms"
    value: str = ""
    sign: str = ""
    terms: Terms | None = None


def _tokens(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos, end = 0, len(query)
    pending_field: str | None = None
    while pos < end:
        char = query[pos]
        if char.isspace():
            pos += 1
            continue
        if char in "()":
            tokens.append(_Token("open" if char == "(" else "close"))
            pending_field = None
            pos += 1
            continue
        run_end = pos
        while run_end < end and not query[run_end].isspace() and query[run_end] not in '()"':
            run_end += 1
        sign = ""
        run = query[pos:run_end]
        if run[:1] in ("+", "-") and (len(run) > 1 or query[run_end:run_end + 1] == '"'):
            sign, run = run[0], run[1:]
        field_match = _FIELD.fullmatch(run)
        field_name = pending_field
        if field_match:
            field_name, run = field_match.group(1), field_match.group(2)
        pending_field = None
        if run_end < end and query[run_end] == '"' and not run:
            close = query.find('"', run_end + 1)
            if close == -1:  # unclosed: the rest is plain words
                tokens += _word_tokens(query[run_end + 1:], sign, field_name)
                break
            words = tuple(_WORD.findall(query[run_end + 1:close]))
            if words:
                tokens.append(_Token("terms", sign=sign, terms=Terms(words, field=field_name)))
            pos = close + 1
            continue
        if run in _OPERATORS and not sign and not field_match:
            tokens.append(_Token("op", value=_OPERATORS[run]))
        elif field_match and not run:
            pending_field = field_name  # "text:" then the word or phrase it applies to
        else:
            tokens += _word_tokens(run, sign, field_name)
        pos = run_end if run_end > pos else pos + 1
    return tokens


def _word_tokens(run: str, sign: str, field_name: str | None) -> list[_Token]:
    """One run of text: its words, each on its own ("real-gas" is real, gas: the phrase tier
    ranks them together first), the last one a prefix before a "*". Signed, joined words are
    a phrase: "-e-mail" excludes e-mail, not every "e"."""
    if sign:
        pieces = [tuple(_WORD.findall(piece)) for piece in _SPLIT.split(run)]
    else:
        pieces = [(word,) for word in _WORD.findall(run)]
    pieces = [words for words in pieces if words]
    tokens = []
    for n, words in enumerate(pieces):
        prefix = n == len(pieces) - 1 and len(words) == 1 and run.endswith("*") \
            and run.rstrip("*").endswith(words[0])
        tokens.append(_Token("terms", sign=sign, terms=Terms(
            (words[0].lower(),) if prefix else words, prefix=prefix, field=field_name)))
    return tokens


class _Reader:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.leaves = 0

    def group(self, depth: int) -> Group:
        """Clauses up to the matching ")": AND-joined runs, OR between runs."""
        runs: list[list[tuple[Occur, Node]]] = []
        joined = negated = False
        while self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            self.pos += 1
            if token.kind == "close":
                if depth > 0:
                    break
                continue  # a stray ")"
            if token.kind == "op":
                if token.value == "not":
                    negated = True
                else:
                    joined = token.value == "and"
                continue
            node: Node | None
            if token.kind == "open":
                node = self.group(depth + 1) if depth < MAX_NESTING else None
                if node is not None and len(node.clauses) <= 1:
                    # "()" is nothing, "(a)" is a; "(-a)" stays a group of its own
                    only = node.clauses[0] if node.clauses else None
                    node = None if only is None else only[1] if only[0] is not Occur.MUST_NOT \
                        else node
            elif self.leaves < MAX_TERMS:
                self.leaves += 1
                node = token.terms
            else:
                node = None
            if node is None:
                continue
            occur = {"+": Occur.MUST, "-": Occur.MUST_NOT}.get(token.sign, Occur.SHOULD)
            if negated:
                occur = Occur.MUST_NOT
            if joined and runs:
                runs[-1].append((occur, node))
            else:
                runs.append([(occur, node)])
            joined = negated = False
        return _from_runs(runs)


def _from_runs(runs: list[list[tuple[Occur, Node]]]) -> Group:
    """`a AND b OR c` is (a AND b) OR c: an AND-run of several clauses is a group of MUSTs."""
    def must(occur: Occur) -> Occur:
        return Occur.MUST if occur is Occur.SHOULD else occur

    if len(runs) == 1 and len(runs[0]) > 1:
        return Group(tuple(dict.fromkeys((must(o), n) for o, n in runs[0])))
    clauses: list[tuple[Occur, Node]] = []
    for run in runs:
        if len(run) == 1:
            clauses.append(run[0])
        else:
            clauses.append((Occur.SHOULD, Group(tuple(dict.fromkeys((must(o), n)
                                                                    for o, n in run)))))
    return Group(tuple(dict.fromkeys(clauses)))  # "C++ & C#" searches C once


# -- what the reading gives the ranking ---------------------------------------------------------

def _leaves(node: Node, *, positive_only: bool) -> list[Terms]:
    if isinstance(node, Terms):
        return [node]
    found = []
    for occur, child in node.clauses:
        if positive_only and occur is Occur.MUST_NOT:
            continue
        found += _leaves(child, positive_only=positive_only)
    return found


def _phrase_words(root: Group) -> tuple[str, ...]:
    """The words of a plain query in order, as one phrase (none for prefixes and fields)."""
    leaves = _leaves(root, positive_only=True)
    if any(t.prefix or t.field for t in leaves):
        return ()
    words = [w for t in leaves for w in t.words]
    if len(leaves) == 1:
        return ()  # one word, or one quoted phrase: every match already holds it
    # Stop words at its ends are no part of it (PostgreSQL drops them; "what are the ...").
    while words and words[0].lower() in STOP_WORDS:
        words.pop(0)
    while words and words[-1].lower() in STOP_WORDS:
        words.pop()
    return tuple(words) if len(words) > 1 else ()


def _is_stop_word(terms: Terms) -> bool:
    return len(terms.words) == 1 and not terms.prefix and terms.words[0].lower() in STOP_WORDS


def _without_stop_words(group: Group) -> Group | None:
    clauses: list[tuple[Occur, Node]] = []
    for occur, child in group.clauses:
        kept = (None if _is_stop_word(child) else child) if isinstance(child, Terms) \
            else _without_stop_words(child)
        if kept is not None:
            clauses.append((occur, kept))
    return Group(tuple(clauses)) if clauses else None


__all__ = ["FIELDS", "MAX_TERMS", "STOP_WORDS", "Group", "KeywordQuery", "Node", "Occur",
           "Terms", "plain_words", "read_query"]
