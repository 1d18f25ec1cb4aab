"""Phrases in tantivy are looked up by their word pairs (one term each) before their positions
are checked: the same documents, in the same order with the same scores, as by positions
alone, which is how an index made before the pairs still answers."""

from __future__ import annotations

from pathlib import Path

import pytest
import tantivy

from docflow.search import SearchDocument
from docflow.search.tantivy_index import TantivyIndex, _to_tantivy, build_schema, word_pairs

TEXTS = {
    "d1": "We sent a late payment notice to the tenant.",
    "d2": "The payment was late again.",
    "d3": "Late fees and a payment plan.",
    "d4": "Late Payments: notice of the second reminder.",
    "d5": "late payment for the payment notice",  # both pairs, not the three words together
    "d6": "late_payment_notice",  # the tokenizer splits at "_": these are three words
    "d7": "Nothing to see here.",
}
QUERIES = ['"late payment notice"', '"late payment"', "late payment", '"late payments"',
           'text:"late payment"', '"payment notice" -fees', 'late payment notice',
           '"late payment" OR "payment plan"', '"the tenant"']


def _index(path: Path, pairs: bool) -> TantivyIndex:
    if not pairs:  # made as before the pairs: opened, kept and searched in its own schema
        path.mkdir(parents=True)
        tantivy.Index(build_schema(pairs=False), str(path))
    index = TantivyIndex(path, writer=True)
    index.index([SearchDocument(id=key, filename=f"{key}.txt", doc_type="letter",
                                batch_id="b", text=text) for key, text in TEXTS.items()])
    return index


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[TantivyIndex, TantivyIndex]:
    root = tmp_path_factory.mktemp("indexes")
    return _index(root / "pairs", pairs=True), _index(root / "positions", pairs=False)


def test_word_pairs_are_the_text_fields_words_two_by_two() -> None:
    assert word_pairs("Late payments, of the INVOICES!") == [
        "late_payment", "payment_of", "of_the", "the_invoic"]
    assert word_pairs("one") == [] and word_pairs("") == []
    assert word_pairs("a_b") == ["a_b"]  # "_" splits words: a pair, never one word


@pytest.mark.parametrize("query, expected", [
    ('"late payment notice"', {"d1", "d4", "d6"}),
    ('"late payment"', {"d1", "d4", "d5", "d6"}),
    ('"late payments"', {"d1", "d4", "d5", "d6"}),
    ('"payment late"', set()),
    ('"the tenant"', {"d1"}),
])
def test_a_phrase_finds_its_words_together_and_in_order(both, query: str,
                                                        expected: set[str]) -> None:
    pairs, _ = both
    assert {hit.id for hit in pairs.search(query, limit=20).hits} == expected


@pytest.mark.parametrize("query", QUERIES)
def test_pairs_change_no_hit_order_or_score(both, query: str) -> None:
    pairs, positions = both
    with_pairs, by_position = pairs.search(query, limit=20), positions.search(query, limit=20)
    assert with_pairs.total == by_position.total
    assert [(h.id, round(h.score, 4)) for h in with_pairs.hits] == [
        (h.id, round(h.score, 4)) for h in by_position.hits]


def test_the_phrase_tier_puts_the_words_together_first(both) -> None:
    pairs, _ = both
    ranked = [hit.id for hit in pairs.search("late payment", limit=20).hits]
    assert set(ranked[:4]) == {"d1", "d4", "d5", "d6"} and set(ranked[4:]) == {"d2", "d3"}


def test_a_phrase_is_looked_up_by_its_pairs(tmp_path: Path) -> None:
    """The lookup goes through the pairs (what makes it cheap): a document written without
    them is not found by the phrase, though its positions hold it."""
    index = _index(tmp_path / "index", pairs=True)
    writer = index._writer_or_raise()
    writer.add_document(_to_tantivy(SearchDocument(
        id="bare", filename="bare.txt", doc_type=None, batch_id=None,
        text="a late payment notice"), pairs=False))
    writer.commit()
    assert "bare" in {hit.id for hit in index.search("notice", limit=20).hits}
    assert "bare" not in {hit.id for hit in index.search('"late payment"', limit=20).hits}
