"""The tantivy backend: an index directory on disk, one writer process, any number of readers."""

from __future__ import annotations

import html
import json
import logging
import os
import pathlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import tantivy

from docflow.search import (
    IndexLocked,
    ReadOnlyIndex,
    SearchDocument,
    SearchError,
    SearchHit,
    SearchResults,
    check_page,
)
from docflow.search.query import Group, KeywordQuery, Occur, Terms, plain_words, read_query

log = logging.getLogger(__name__)

SNIPPET_CHARS = 200
_QUERY_FIELDS = ["text", "filename"]
# English stemming (Snowball, as PostgreSQL's 'english'): "payments" finds "payment"
# (Cranfield nDCG@10 0.492 -> 0.515, bench/eval_search.py). Indexes made before it keep their
# own tokenizer until `docflow reindex` rebuilds them (`TantivyIndex.stale`).
_TOKENIZER = "en_stem"
_WRITER_HEAP_BYTES = 128_000_000
# One indexing thread: one segment per commit and fewer merges (0.02 vs 0.04 CPU-ms per doc).
_WRITER_THREADS = 1
T = TypeVar("T")


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    # Raw tokenizer: ids and filter values must match exactly, never split or lowercased.
    builder.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("filename", stored=True, tokenizer_name=_TOKENIZER)
    builder.add_text_field("doc_type", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("batch_id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("text", stored=True, index_option="position",
                           tokenizer_name=_TOKENIZER)
    return builder.build()


class TantivyIndex:
    """A tantivy index directory. `writer=True` takes tantivy's one-per-directory writer lock."""

    def __init__(self, path: pathlib.Path, *, writer: bool) -> None:
        self.path = pathlib.Path(path)
        self.writable = writer
        self._schema = build_schema()
        self._meta = self.path / "meta.json"
        self._meta_seen: tuple[int, int, int] | None = None
        self._folder: tuple[int, int] | None = None  # the index folder a reader opened
        self._index: tantivy.Index | None = None
        self._writer: tantivy.IndexWriter | None = None
        # The pyo3 writer cannot be used from two threads at once.
        self._lock = threading.Lock()
        self._closed = False
        self.stale: str | None = None  # why the index on disk predates this schema, if it does
        if writer:
            self.path.mkdir(parents=True, exist_ok=True)
            if tantivy.Index.exists(str(self.path)):
                # An index from an older docflow is written as it was made (its own schema),
                # so it keeps working until `docflow reindex` swaps in a rebuilt one.
                self._index = tantivy.Index.open(str(self.path))
                self._check_schema()
            else:
                self._index = tantivy.Index(self._schema, str(self.path))
            self._index.config_reader("Manual")
            try:
                self._writer = self._index.writer(_WRITER_HEAP_BYTES, _WRITER_THREADS)
            except ValueError as exc:
                if "LockBusy" not in str(exc):
                    raise
                raise IndexLocked(
                    f"the search index at {self.path} already has a writer in another process; "
                    "only one indexer may write to it, open it read-only everywhere else"
                ) from exc
            self._index.reload()
        else:
            self._open_reader()

    # -- writing -------------------------------------------------------------------------------

    def index(self, docs: Sequence[SearchDocument]) -> None:
        writer = self._writer_or_raise()
        # Last one wins when a batch holds the same id twice.
        latest = {doc.id: doc for doc in docs}
        if not latest:
            return
        with self._lock:
            try:
                for doc in latest.values():
                    writer.delete_documents_by_term("id", doc.id)
                    writer.add_document(_to_tantivy(doc))
                writer.commit()
            except BaseException:
                # Never leave half a batch pending for the next commit.
                writer.rollback()
                raise
            # No reader reload here: the indexer never searches; a search reloads when it needs.

    def delete(self, ids: Sequence[str]) -> None:
        writer = self._writer_or_raise()
        if not ids:
            return
        with self._lock:
            try:
                for doc_id in set(ids):
                    writer.delete_documents_by_term("id", doc_id)
                writer.commit()
            except BaseException:
                writer.rollback()
                raise

    # -- reading -------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        doc_type: str | None = None,
        batch_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> SearchResults:
        check_page(limit, offset)
        index = self._current_index()
        if index is None:
            return SearchResults(total=0, hits=[])
        searcher = index.searcher()
        try:
            final = self._with_filters(_keyword_query(index, read_query(query)), doc_type,
                                       batch_id)
            # tantivy panics on limit 0, so count with a one-hit page and return no hits.
            result = searcher.search(final, max(limit, 1), count=True, offset=offset)
        except ValueError:
            # A reading tantivy refuses to build or run: its plain words instead.
            final = self._with_filters(_keyword_query(index, plain_words(query)), doc_type,
                                       batch_id)
            result = searcher.search(final, max(limit, 1), count=True, offset=offset)
        if limit == 0:
            return SearchResults(total=result.count, hits=[])
        snippets = tantivy.SnippetGenerator.create(searcher, final, index.schema, "text")
        snippets.set_max_num_chars(SNIPPET_CHARS)
        hits = []
        for score, address in result.hits:
            stored = searcher.doc(address)
            hits.append(
                SearchHit(
                    id=stored.get_first("id"),
                    filename=stored.get_first("filename") or "",
                    doc_type=stored.get_first("doc_type"),
                    score=float(score),
                    snippet=_snippet(snippets, stored),
                )
            )
        return SearchResults(total=result.count, hits=hits)

    def count(self) -> int:
        index = self._current_index()
        return 0 if index is None else index.searcher().num_docs

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                # Finishes pending merges and drops the writer, which releases the lock file.
                self._writer.wait_merging_threads()
            self._writer = None
            self._index = None
            self._closed = True

    def __enter__(self) -> TantivyIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

    def _with_filters(
        self, query: tantivy.Query, doc_type: str | None, batch_id: str | None
    ) -> tantivy.Query:
        """The user's query, and every given filter matched exactly (Must, no effect on score)."""
        clauses = [(tantivy.Occur.Must, query)]
        for field, value in (("doc_type", doc_type), ("batch_id", batch_id)):
            if value is not None:
                term = tantivy.Query.term_query(self._schema, field, value, index_option="basic")
                clauses.append((tantivy.Occur.Must, tantivy.Query.const_score_query(term, 0.0)))
        return query if len(clauses) == 1 else tantivy.Query.boolean_query(clauses)

    def _writer_or_raise(self) -> tantivy.IndexWriter:
        self._check_open()
        if self._writer is None:
            raise ReadOnlyIndex(
                f"the search index at {self.path} was opened read-only; "
                "only the indexer process may add or delete documents"
            )
        return self._writer

    def _check_open(self) -> None:
        if self._closed:
            raise SearchError(f"the search index at {self.path} is closed")

    def _open_reader(self) -> None:
        # An API process may start before the indexer has created the index: stay empty till then.
        if not self._meta.exists():
            return
        index = _retry_on_vanished_segment(lambda: tantivy.Index.open(str(self.path)))
        # Manual: we reload ourselves when meta.json changes, so no watcher thread per process.
        index.config_reader("Manual")
        self._index = index
        self._folder = _identity(self.path)
        self._check_schema()
        self._reload()

    def _swapped(self) -> bool:
        """Whether another folder now sits at the index's path (mid-swap, none: keep ours)."""
        now = _identity(self.path)
        return now is not None and now != self._folder

    def _check_schema(self) -> None:
        """Note (and log once per handle) an index made with another tokenizer: its words are
        not stemmed, so `docflow reindex` should rebuild it; it is searched as it is meanwhile."""
        try:
            fields = json.loads(self._meta.read_text())["schema"]
        except (OSError, ValueError, KeyError):
            return
        made = {f["name"]: f.get("options", {}).get("indexing", {}).get("tokenizer")
                for f in fields}
        old = [name for name in _QUERY_FIELDS if made.get(name) != _TOKENIZER]
        stale = (f"the search index at {self.path} was made by an older docflow ({', '.join(old)} "
                 f"not stemmed): run `docflow reindex` to rebuild it; until then it is searched "
                 "as it is") if old else None
        if stale and stale != self.stale:
            log.warning("%s", stale)
        self.stale = stale

    def _current_index(self) -> tantivy.Index | None:
        """The index as of its last commit, reloading only when meta.json has changed."""
        self._check_open()
        if self._index is None or (not self.writable and self._swapped()):
            # First use, or `docflow reindex` swapped a rebuilt folder in: open it afresh, with
            # the schema it was made with.
            self._index = None
            self._meta_seen = None
            self._open_reader()
            return self._index
        # Writer and readers alike: a stat of meta.json, and a reload only after a commit.
        self._reload()
        return self._index

    def _reload(self) -> None:
        assert self._index is not None
        try:
            stat = os.stat(self._meta)
        except FileNotFoundError:
            return
        # Stat first: a commit landing after the stat is picked up by the next search.
        stamp = (stat.st_mtime_ns, stat.st_ino, stat.st_size)
        if stamp == self._meta_seen:
            return
        _retry_on_vanished_segment(self._index.reload)
        self._meta_seen = stamp


def _identity(path: pathlib.Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _to_tantivy(doc: SearchDocument) -> tantivy.Document:
    fields = {"id": doc.id, "filename": doc.filename, "text": doc.text}
    if doc.doc_type is not None:
        fields["doc_type"] = doc.doc_type
    if doc.batch_id is not None:
        fields["batch_id"] = doc.batch_id
    return tantivy.Document(**fields)


def _keyword_query(index: tantivy.Index, reading: KeywordQuery) -> tantivy.Query:
    """BM25 over any of the words, lifted by a tier for all the words and one for the phrase."""
    if reading.everything:
        return tantivy.Query.all_query()
    if not reading.root.clauses:
        return tantivy.Query.empty_query()
    clauses = [(tantivy.Occur.Must, _group_query(index, reading.root))]
    if reading.all_words:
        every = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, _terms_query(index, terms)) for terms in reading.ranked])
        clauses.append((tantivy.Occur.Should,
                        tantivy.Query.const_score_query(every, reading.bonus)))
    if reading.phrase:
        phrase = _terms_query(index, Terms(reading.phrase))
        clauses.append((tantivy.Occur.Should,
                        tantivy.Query.const_score_query(phrase, reading.bonus)))
    return tantivy.Query.boolean_query(clauses)


_OCCUR = {Occur.SHOULD: tantivy.Occur.Should, Occur.MUST: tantivy.Occur.Must,
          Occur.MUST_NOT: tantivy.Occur.MustNot}


def _group_query(index: tantivy.Index, group: Group) -> tantivy.Query:
    clauses = [(_OCCUR[occur], _group_query(index, child) if isinstance(child, Group)
                else _terms_query(index, child)) for occur, child in group.clauses]
    if all(occur is Occur.MUST_NOT for occur, _ in group.clauses):
        clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))  # "-draft": all but
    return tantivy.Query.boolean_query(clauses)


def _terms_query(index: tantivy.Index, terms: Terms) -> tantivy.Query:
    """One word or phrase through each field's own tokenizer (stemmed, lower-cased); a prefix
    as it was typed, lower-cased, against the indexed terms."""
    fields = [terms.field] if terms.field else _QUERY_FIELDS
    if terms.prefix:
        schema = index.schema
        return tantivy.Query.boolean_query([
            (tantivy.Occur.Should, tantivy.Query.regex_query(schema, name, f"{terms.words[0]}.*"))
            for name in fields])
    # Quoted, so no word is ever syntax; the words are \w+, so they hold no quote.
    return index.parse_query('"' + " ".join(terms.words) + '"', fields)


def _snippet(generator: tantivy.SnippetGenerator, stored: tantivy.Document) -> str:
    snippet = generator.snippet_from_doc(stored)
    if snippet.fragment().strip():
        # Extracted text is full of line breaks and runs of spaces; a snippet reads as one line.
        return " ".join(snippet.to_html().split())
    # Matched on the filename only (or a blank query): show the start of the text instead.
    text = " ".join((stored.get_first("text") or "").split())
    if len(text) > SNIPPET_CHARS:
        text = text[:SNIPPET_CHARS].rsplit(" ", 1)[0]
    return html.escape(text)


def _retry_on_vanished_segment(action: Callable[[], T], attempts: int = 3) -> T:
    """Run `action`, retrying briefly: the writer may merge away a segment we were about to open."""
    for attempt in range(attempts):
        try:
            return action()
        except (OSError, ValueError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")
