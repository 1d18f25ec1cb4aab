"""Whatever a user types into the search box, every backend answers: syntax it cannot run, or
fields it must not touch, are searched as plain words; it never raises or takes the process down."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docflow.search import MAX_SEARCH_DEPTH, SearchDepthExceeded, SearchDocument, SearchIndex

OpenIndex = Callable[..., SearchIndex]

DOCS = [
    SearchDocument("inv-1", "inv-1.txt", "invoice", "b1", "Invoice from Acme, total zorblatt17"),
    SearchDocument("ltr-1", "ltr-1.txt", "letter", "b2", "Dear Ms Smith, hello world"),
]

HOSTILE = [
    "text:*", "id:*", "sha256:*", "filename:*", "doc_type:*", "batch_id:*", "*:*", "text:",
    "id:inv-1", "batch_id:b1", "doc_type:invoice", "nosuchfield:zorblatt17",
    "text:[a TO z]", "text:{* TO *}", "text:>=a", "text:IN [a b]", "filename:IN [*]",
    '"unbalanced', '"', '""', '"""', "(zorblatt17", "zorblatt17)", "((((", "))))", "[", "]",
    "{", "}", "zorblatt17~", "zorblatt17~2", "zorblatt17~99999999999999999999",
    '"acme total"~999999999999', "zorblatt17^", "zorblatt17^1e308", "zorblatt17^NaN",
    "zorblatt17^-1", "^^^", "~~~", "99999999999999999999999999999999", "-1", "+-+-", "\\",
    "zorblatt17\\", "\x00", "zorblatt17\x00", "\x00text:*", "a" * 10_000,
    "zorblatt17 " * 2_000, "(" * 5_000 + "zorblatt17" + ")" * 5_000, "-" * 5_000 + "a",
    '"' * 3_001, "text:" * 1_000, "AND", "OR", "NOT", "AND OR NOT", "zorblatt17 AND",
    "*", "?", "hel*", "/regex.*/", "&&", "||", "!", ":", "::", "\u202e\ufeff", "🙂" * 500,
]


@pytest.fixture
def index(open_search_index: OpenIndex) -> SearchIndex:
    handle = open_search_index(writer=True)
    handle.index(DOCS)
    return handle


def test_hostile_queries_are_answered_never_raised(index: SearchIndex) -> None:
    for query in HOSTILE:
        results = index.search(query, limit=5)
        assert results.total >= 0 and len(results.hits) <= 5, query


@pytest.mark.parametrize("query", ["text:*", "id:*", "sha256:*", "zorblatt17 AND id:*",
                                   "sha256:zorblatt17", "(" * 5_000 + "zorblatt17"])
def test_a_query_that_cannot_run_finds_its_words(index: SearchIndex, query: str) -> None:
    found = index.search(f"{query} zorblatt17")
    assert [hit.id for hit in found.hits] == ["inv-1"], query


def test_the_id_and_filter_fields_are_not_searchable_by_syntax(index: SearchIndex) -> None:
    # Filters are parameters (doc_type, batch_id); in the query these are just words.
    assert index.search("doc_type:letter").total == 0
    assert index.search("batch_id:b2").total == 0


def test_a_page_past_the_search_depth_is_refused_not_allocated(index: SearchIndex) -> None:
    assert index.search("zorblatt17", offset=MAX_SEARCH_DEPTH - 20, limit=20).hits == []
    for offset in (MAX_SEARCH_DEPTH, 10**12, 2**62):
        with pytest.raises(SearchDepthExceeded):
            index.search("zorblatt17", offset=offset)


SYNTAX = st.lists(st.sampled_from(list('():*"~^[]{}-+\\!?/ <>=,.') + [
    "text", "id", "sha256", "filename", "AND", "OR", "NOT", "TO", "IN", "zorblatt17", "1e9",
    "\x00", "9" * 30]), max_size=40).map("".join)


@settings(max_examples=300, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=SYNTAX)
def test_any_mix_of_query_syntax_is_answered(index: SearchIndex, query: str) -> None:
    results = index.search(query, doc_type="invoice", limit=3)
    assert results.total >= 0 and len(results.hits) <= 3
