"""The search contract every backend keeps, told as what the indexer and the API process see."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from docflow.search import ReadOnlyIndex, SearchDocument, SearchIndex, open_index

# The `open_search_index` fixture (conftest.py): opens a handle on a fresh index of one backend.
OpenIndex = Callable[..., SearchIndex]


def doc(
    doc_id: str,
    text: str,
    *,
    filename: str | None = None,
    doc_type: str | None = "letter",
    batch_id: str | None = "batch-1",
) -> SearchDocument:
    return SearchDocument(
        id=doc_id,
        filename=filename or f"{doc_id}.txt",
        doc_type=doc_type,
        batch_id=batch_id,
        text=text,
    )


MIXED = [
    doc("inv-1", "Invoice from Acme Corp, total due $1,200.00", doc_type="invoice"),
    doc("inv-2", "Invoice from Globex, total due EUR 310.50", doc_type="invoice", batch_id="b2"),
    doc("rcp-1", "Receipt: two coffees, total $7.20 zorblatt17", doc_type="receipt"),
    doc("ltr-1", "Dear Ms Smith, the total is attached.", batch_id="b2"),
]


def test_a_word_in_one_document_finds_exactly_that_document(open_search_index: OpenIndex):
    index = open_search_index(writer=True)
    assert isinstance(index, SearchIndex)
    index.index(MIXED)

    results = index.search("zorblatt17")

    assert results.total == 1
    assert [hit.id for hit in results.hits] == ["rcp-1"]
    hit = results.hits[0]
    assert (hit.filename, hit.doc_type) == ("rcp-1.txt", "receipt")
    assert hit.score > 0


def test_filters_narrow_hits_to_one_type_or_one_batch(open_search_index: OpenIndex):
    index = open_search_index(writer=True)
    index.index(MIXED)

    assert index.search("total").total == 4
    by_type = index.search("total", doc_type="invoice")
    assert sorted(hit.id for hit in by_type.hits) == ["inv-1", "inv-2"]
    by_batch = index.search("total", batch_id="b2")
    assert sorted(hit.id for hit in by_batch.hits) == ["inv-2", "ltr-1"]
    both = index.search("total", doc_type="invoice", batch_id="b2")
    assert [hit.id for hit in both.hits] == ["inv-2"]
    assert index.search("total", doc_type="Invoice").total == 0  # filters match exactly


def test_a_blank_query_lists_every_document_that_passes_the_filters(open_search_index: OpenIndex):
    index = open_search_index(writer=True)
    index.index(MIXED)

    assert index.search("").total == 4
    assert index.search("*").total == 4  # "everything", as users type it
    assert {hit.id for hit in index.search("  ", doc_type="invoice").hits} == {"inv-1", "inv-2"}


def test_pages_walk_through_all_hits_and_total_counts_them_all(open_search_index: OpenIndex):
    index = open_search_index(writer=True)
    index.index([doc(f"d{n:02d}", f"common word, number {n}") for n in range(25)])

    pages = [index.search("common", limit=10, offset=offset) for offset in (0, 10, 20)]

    assert [page.total for page in pages] == [25, 25, 25]
    assert [len(page.hits) for page in pages] == [10, 10, 5]
    ids = [hit.id for page in pages for hit in page.hits]
    assert sorted(ids) == [f"d{n:02d}" for n in range(25)]
    assert index.search("common", limit=10, offset=30).hits == []
    count_only = index.search("common", limit=0)
    assert (count_only.total, count_only.hits) == (25, [])


def test_indexing_a_document_again_replaces_it(open_search_index: OpenIndex):
    index = open_search_index(writer=True)
    # The same id twice in one batch, then again in a later batch (a reprocessed document).
    index.index([doc("a", "first draft alpha"), doc("b", "other"), doc("a", "second draft beta")])
    index.index([doc("a", "final version gamma", doc_type="contract")])

    assert index.count() == 2
    assert index.search("alpha").total == 0
    assert index.search("beta").total == 0
    final = index.search("gamma")
    assert [(hit.id, hit.doc_type) for hit in final.hits] == [("a", "contract")]


def test_deleted_documents_are_no_longer_found(open_search_index: OpenIndex):
    index = open_search_index(writer=True)
    index.index(MIXED)

    index.delete(["inv-1", "rcp-1", "never-indexed"])

    assert index.count() == 2
    assert index.search("zorblatt17").total == 0
    assert {hit.id for hit in index.search("total").hits} == {"inv-2", "ltr-1"}


def test_the_api_process_sees_what_the_indexer_commits(open_search_index: OpenIndex):
    indexer = open_search_index(writer=True)
    indexer.index(MIXED[:1])
    api = open_search_index(writer=False)
    assert api.count() == 1

    indexer.index(MIXED[1:])
    assert api.search("zorblatt17").total == 1
    assert api.count() == 4

    indexer.delete(["rcp-1"])
    assert api.search("zorblatt17").total == 0


def test_the_api_process_cannot_write(open_search_index: OpenIndex):
    open_search_index(writer=True)
    api = open_search_index(writer=False)

    with pytest.raises(ReadOnlyIndex):
        api.index(MIXED)
    with pytest.raises(ReadOnlyIndex):
        api.delete(["inv-1"])


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced quote',
        '"',
        "AND",
        "OR OR",
        "NOT",
        "total AND",
        "Re: invoice",
        "subject:",
        "nosuchfield:value",
        "-",
        "- total",
        "+",
        "(",
        "total)",
        "[1 TO",
        "{",
        "*",
        "~",
        "^",
        "total^abc",
        "/regex.*/",
        "\\",
        "https://example.com/a?b=c&d",
        "C++ & C#",
        "10:30",
        "a" * 1000,
        "🙂 ünïcödé",
    ],
)
def test_odd_queries_never_raise(open_search_index: OpenIndex, query: str):
    index = open_search_index(writer=True)
    index.index(MIXED)

    results = index.search(query, doc_type="invoice")

    assert results.total >= 0
    assert len(results.hits) <= results.total


def test_a_query_with_stray_syntax_still_finds_its_words(open_search_index: OpenIndex):
    index = open_search_index(writer=True)
    index.index(MIXED)

    assert [hit.id for hit in index.search('"zorblatt17').hits] == ["rcp-1"]
    # "Re:" is not a field: the words are searched instead, best match first.
    assert [hit.id for hit in index.search("Re: zorblatt17").hits] == ["rcp-1"]
    assert index.search("Acme: invoice").hits[0].id == "inv-1"


def test_the_snippet_marks_the_matched_word(open_search_index: OpenIndex):
    index = open_search_index(writer=True)
    filler = "Lorem ipsum dolor sit amet. " * 40
    index.index([doc("long", f"{filler} The <special> zorblatt17 is here. {filler}")])

    snippet = index.search("zorblatt17").hits[0].snippet

    assert "<b>zorblatt17</b>" in snippet
    assert len(snippet) <= 200 + len("<b></b>") + 20  # room for the marks and escaped < >
    assert "<special>" not in snippet  # document text never becomes markup


def test_a_filename_match_shows_the_start_of_the_text(open_search_index: OpenIndex):
    index = open_search_index(writer=True)
    index.index([doc("q", "Quarterly numbers " + "x " * 300, filename="acme-report-2024.pdf")])

    hit = index.search("acme").hits[0]

    assert hit.filename == "acme-report-2024.pdf"
    assert hit.snippet.startswith("Quarterly numbers")
    assert len(hit.snippet) <= 200


def test_an_unknown_backend_names_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="tantivy"):
        open_index("elasticsearch", tmp_path, writer=True)
