"""Keyword ranking, told as what a user sees: any of the words finds a document, BM25 orders
them, and documents holding all the words (then the phrase) come first, on every backend, and
the same query ranks the same way on tantivy and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from docflow.search import SearchDocument, SearchIndex, open_index
from docflow.search.query import read_query
from docflow.store import Database, upgrade_database
from tests.conftest import empty_postgres

OpenIndex = Callable[..., SearchIndex]

CORPUS = {
    "fee-notice": "Reminder: a late payment fee of 40 euros applies to invoice 2231.",
    "arrived-late": "The payment for invoice 88 arrived late, two weeks after the deadline.",
    "courier": "Late delivery of the spare parts; the courier was late again on Monday.",
    "terms": "Payment terms: thirty days net. Payment by bank transfer only.",
    "finance": "Payments are processed weekly by the finance team in Lisbon.",
    "board": "Minutes of the quarterly board meeting: budget, hiring and the new office.",
    "wing": "Lift and drag of a swept wing at high subsonic speed, measured in the wind tunnel.",
    "flutter": "Flutter of a thin wing: aeroelastic problems of high speed aircraft structures.",
    "heat": "Heat transfer to a blunt body in hypersonic flow; the boundary layer is laminar.",
    "shell": "Buckling of thin cylindrical shells under axial compression and external pressure.",
    "boundary": "Transition of the boundary layer on a flat plate at supersonic speed.",
    "panel": "Panel flutter at supersonic speed: the aeroelastic stability of flat panels.",
}
DOCS = [SearchDocument(key, f"{key}.txt", "letter", "b1", text) for key, text in CORPUS.items()]


@pytest.fixture
def index(open_search_index: OpenIndex) -> SearchIndex:
    handle = open_search_index(writer=True)
    handle.index(DOCS)
    return handle


def ids(index: SearchIndex, query: str) -> list[str]:
    return [hit.id for hit in index.search(query, limit=20).hits]


def test_a_short_query_puts_the_phrase_then_all_words_then_any_word(index: SearchIndex):
    ranked = ids(index, "late payment")

    assert ranked[:2] == ["fee-notice", "arrived-late"]  # the phrase, then both words apart
    # Documents with one of the words are found too, after them ("payments" is "payment").
    assert set(ranked[2:]) == {"courier", "terms", "finance"}


def test_a_question_finds_documents_holding_some_of_its_words(index: SearchIndex):
    ranked = ids(index, "what are the aeroelastic problems of high speed aircraft?")

    assert ranked[0] == "flutter"
    assert {"panel", "wing"} <= set(ranked)
    # "what", "are", "the", "of" are not searched: a document holding only them is not found.
    assert "board" not in ranked and "shell" not in ranked


def test_words_are_found_by_their_stem(index: SearchIndex):
    assert set(ids(index, "payments")) == {"fee-notice", "arrived-late", "terms", "finance"}
    assert ids(index, "buckled shell") == ["shell"]


@pytest.mark.parametrize(("query", "expected"), [
    ("wing -flutter", ["wing"]),
    ('"boundary layer" supersonic', ["boundary", "heat", "panel"]),
    ("late AND payment", ["fee-notice", "arrived-late"]),
    # All three words first: the one with "deadline" too.
    ("(late OR deadline) AND invoice", ["arrived-late", "fee-notice"]),
    ("+invoice late", {"fee-notice", "arrived-late"}),
    ("filename:panel", ["panel"]),
    ("text:panel", ["panel"]),
    ("filename:finance", ["finance"]),
    ("NOT payment NOT late", {"board", "boundary", "flutter", "heat", "panel", "shell", "wing"}),
])
def test_query_syntax_keeps_its_meaning(index: SearchIndex, query: str,
                                        expected: list[str] | set[str]):
    found = ids(index, query)
    if isinstance(expected, set):
        assert set(found) == expected  # no order between them to speak of
    else:
        assert found == expected


def test_without_tiers_the_same_documents_rank_by_bm25_alone(index: SearchIndex):
    # What hybrid search fuses: a tier's bonus would dwarf every other score in the fusion.
    query = "late payment"
    tiered = {hit.id: hit.score for hit in index.search(query, limit=20).hits}
    plain = index.search(query, limit=20, tiers=False).hits
    bonus = read_query(query).bonus
    held = {hit.id: round((tiered[hit.id] - hit.score) / bonus) for hit in plain}

    assert set(held) == set(tiered)
    assert [hit.score for hit in plain] == sorted((hit.score for hit in plain), reverse=True)
    for hit in plain:
        assert 0 < hit.score < bonus
        assert tiered[hit.id] - hit.score == pytest.approx(held[hit.id] * bonus, rel=1e-5)
    assert held["fee-notice"] == 2 and held["courier"] == 0  # the phrase and all words; one


def test_a_prefix_finds_every_word_it_begins(index: SearchIndex):
    assert set(ids(index, "aeroel*")) == {"flutter", "panel"}
    assert set(ids(index, "superson*")) == {"boundary", "panel"}


# -- the same query, the same ranking, on both backends ----------------------------------------

COMPARED = [
    "late payment", "payments", "what are the aeroelastic problems of high speed aircraft",
    "flutter of a wing", "supersonic boundary layer", "boundary layer transition on a flat plate",
    "thin shells buckling", "wing -flutter", '"boundary layer" supersonic', "heat OR buckling",
    "filename:panel flutter", "late AND payment", "invoice deadline", "aeroel*",
]


@pytest.mark.postgres
def test_both_backends_find_the_same_documents_and_rank_them_alike(postgres_url: str,
                                                                   tmp_path: Path):
    empty_postgres(postgres_url)
    migrated = Database(postgres_url)
    upgrade_database(migrated)
    migrated.dispose()
    with open_index("tantivy", tmp_path / "search", writer=True) as tantivy, \
            open_index("postgres", tmp_path, writer=True, database_url=postgres_url) as postgres:
        tantivy.index(DOCS)
        postgres.index(DOCS)
        for query in COMPARED:
            found = {name: index.search(query, limit=20)
                     for name, index in (("tantivy", tantivy), ("postgres", postgres))}
            ranked = {name: [hit.id for hit in results.hits] for name, results in found.items()}
            assert found["tantivy"].total == found["postgres"].total, query
            assert set(ranked["tantivy"]) == set(ranked["postgres"]), query
            if query.endswith("*"):
                continue  # tantivy gives every prefix match the same score: no order to compare
            assert ranked["tantivy"][0] == ranked["postgres"][0], query
            # Scores differ in detail (a document's length: its tokens in tantivy, its distinct
            # stems in PostgreSQL), so near ties may swap; clearly apart, they keep their order.
            score = {hit.id: hit.score for hit in found["tantivy"].hits}
            for n, better in enumerate(ranked["postgres"]):
                for worse in ranked["postgres"][n + 1:]:
                    assert score[better] > score[worse] / 1.25, (query, better, worse)
            # The tiers are the same on both: a hit's tier is how many bonuses it holds.
            bonus = read_query(query).bonus
            tiers = {name: [int(hit.score // bonus) for hit in results.hits]
                     for name, results in found.items()}
            assert tiers["tantivy"] == tiers["postgres"], query
