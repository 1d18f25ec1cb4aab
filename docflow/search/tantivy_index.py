"""The tantivy backend: an index directory on disk, one writer process, any number of readers."""

from __future__ import annotations

import html
import json
import logging
import os
import pathlib
import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import TypeVar

import tantivy

from docflow.search import (
    IndexLocked,
    IndexOutdated,
    ReadOnlyIndex,
    SearchDocument,
    SearchError,
    SearchFilters,
    SearchHit,
    SearchResults,
    SearchSort,
    check_page,
)
from docflow.search.query import Group, KeywordQuery, Occur, Terms, plain_words, read_query
from docflow.store.documents import path_prefix_bounds
from docflow.store.scope import DEFAULT_TENANT, current_scope

log = logging.getLogger(__name__)

SNIPPET_CHARS = 200
_QUERY_FIELDS = ["text", "filename"]
# English stemming (Snowball, as PostgreSQL's 'english'): "payments" finds "payment"
# (Cranfield nDCG@10 0.492 -> 0.515, bench/eval_search.py). Indexes made before it keep their
# own tokenizer until their rebuild is swapped in (`TantivyIndex.outdated`).
_TOKENIZER = "en_stem"
_WRITER_HEAP_BYTES = 128_000_000
# One indexing thread: one segment per commit and fewer merges (0.02 vs 0.04 CPU-ms per doc).
_WRITER_THREADS = 1
# Each pair of adjacent words of the text, as one term ("late_payment"): a phrase is found by
# looking its pairs up, where its positions alone meant reading every document that holds all
# its words (at a common pair, 29% of 200,000 documents: 8 ms of a 2-word search's 18 ms, which
# the phrase tier asks of every query). "_" is safe: the tokenizer splits words at it.
PAIRS = "pairs"
# What the regex syntax of a path filter must escape (Rust regex-syntax's meta characters).
_REGEX_SPECIAL = re.compile(r"[\\.+*?()|\[\]{}^$#&\-~]")
T = TypeVar("T")


# Most document types a facet count lists (the document_types table holds a few dozen).
MAX_FACET_TYPES = 1_000
# Fields an index written before search filters and tenants lacks (it answers plain searches
# until the rebuild the housekeeper starts replaces it).
NEW_FIELDS = frozenset({"tenant", "source_path", "folders", "created_at"})
OUTDATED = ("The search index was written by an older docflow, without the tenant, path and "
            "date of each document or without stemming; it is being rebuilt (`docflow reindex` "
            "shows and resumes the rebuild). Until then only searches without path, date "
            "filters or date order are answered, and none on a server with tenants.")


def build_schema(*, pairs: bool = True) -> tantivy.Schema:
    """The index's fields (`pairs=False`: as indexes made before the word pairs hold them)."""
    builder = tantivy.SchemaBuilder()
    # Raw tokenizer: ids and filter values must match exactly, never split or lowercased.
    builder.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("filename", stored=True, tokenizer_name=_TOKENIZER)
    # Fast: the facet counts per type are an aggregation over this column (~0.3-0.7 ms at 200K).
    builder.add_text_field("doc_type", stored=True, tokenizer_name="raw", index_option="basic",
                           fast=True)
    builder.add_text_field("batch_id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("text", stored=True, index_option="position",
                           tokenizer_name=_TOKENIZER)
    builder.add_text_field("tenant", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("source_path", tokenizer_name="raw", index_option="basic")
    # Every folder a document sits in ("2019/", "2019/q1/"): a folder filter is one term.
    builder.add_text_field("folders", tokenizer_name="raw", index_option="basic")
    builder.add_date_field("created_at", indexed=True, fast=True)
    if pairs:
        builder.add_text_field(PAIRS, tokenizer_name="whitespace", index_option="basic")
    return builder.build()


@cache
def _analyzer() -> tantivy.TextAnalyzer:
    """The text field's tokenizer (tantivy's en_stem), for the word pairs (one per process)."""
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40)).filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.stemmer("english")).build())


def word_pairs(text: str) -> list[str]:
    """Each pair of adjacent words of `text` as the text field indexes them: "Late payments"
    -> ["late_payment"]. (A word over 40 characters, which the index drops, joins its two
    neighbours into a pair where a phrase would not match across it.)"""
    words = _analyzer().analyze(text)
    return [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]


class TantivyIndex:
    """A tantivy index directory. `writer=True` takes tantivy's one-per-directory writer lock."""

    def __init__(self, path: pathlib.Path, *, writer: bool) -> None:
        self.path = pathlib.Path(path)
        self.writable = writer
        self._schema = build_schema()
        self._meta = self.path / "meta.json"
        self._meta_seen: tuple[int, int, int] | None = None
        self._schema_json: str | None = None
        self._index: tantivy.Index | None = None
        self._writer: tantivy.IndexWriter | None = None
        # The pyo3 writer cannot be used from two threads at once.
        self._lock = threading.Lock()
        self._closed = False
        self.outdated = False  # written by an older docflow: lacks NEW_FIELDS or stemming
        self._lacks_fields = False
        self._has_pairs = True  # an index from before the word pairs finds phrases by position
        if writer:
            self.path.mkdir(parents=True, exist_ok=True)
            try:
                self._adopt(tantivy.Index(self._schema, str(self.path), reuse=True))
            except ValueError as exc:
                if "schema does not match" not in str(exc):
                    raise
                # Written by an older docflow: kept live, in its own schema, till its rebuild.
                self._adopt(tantivy.Index.open(str(self.path)))
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
                    writer.add_document(_to_tantivy(doc, outdated=self._lacks_fields,
                                                    pairs=self._has_pairs))
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
        *,
        filters: SearchFilters | None = None,
        sort: SearchSort = SearchSort.RELEVANCE,
        facets: bool = False,
        tiers: bool = True,
    ) -> SearchResults:
        check_page(limit, offset)
        filters = (filters or SearchFilters()).merged(doc_type, batch_id)
        index = self._current_index()
        if index is None:
            return SearchResults(total=0, hits=[], doc_types={} if facets else None)
        if self.outdated and (filters.beyond_type_and_batch or sort is not SearchSort.RELEVANCE
                              or _foreign_scope()):
            raise IndexOutdated(OUTDATED)
        searcher = index.searcher()
        order = ({} if sort is SearchSort.RELEVANCE else
                 {"order_by_field": "created_at",
                  "order": tantivy.Order.Desc if sort is SearchSort.DATE else tantivy.Order.Asc})
        try:
            final = self._with_filters(_keyword_query(index, read_query(query), tiers), filters)
            # tantivy panics on limit 0, so count with a one-hit page and return no hits.
            result = searcher.search(final, max(limit, 1), count=True, offset=offset, **order)
        except ValueError:
            # A reading tantivy refuses to build or run: its plain words instead.
            final = self._with_filters(_keyword_query(index, plain_words(query), tiers), filters)
            result = searcher.search(final, max(limit, 1), count=True, offset=offset, **order)
        # Unscored, tantivy skips the tiers' optional clauses: counting reads the words alone.
        doc_types = self._type_counts(searcher, final) if facets else None
        if limit == 0:
            return SearchResults(total=result.count, hits=[], doc_types=doc_types)
        snippets = tantivy.SnippetGenerator.create(searcher, final, self._schema, "text")
        snippets.set_max_num_chars(SNIPPET_CHARS)
        hits = []
        for key, address in result.hits:
            stored = searcher.doc(address)
            hits.append(
                SearchHit(
                    id=stored.get_first("id"),
                    filename=stored.get_first("filename") or "",
                    doc_type=stored.get_first("doc_type"),
                    # Ordered by date, the key is the date: no relevance score was computed.
                    score=float(key) if not order else 0.0,
                    snippet=_snippet(snippets, stored),
                )
            )
        return SearchResults(total=result.count, hits=hits, doc_types=doc_types)

    @property
    def keeps_tenants(self) -> bool:
        self._current_index()  # a rebuild swapped in since the last search counts (one stat)
        return not self.outdated

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

    def _with_filters(self, query: tantivy.Query, filters: SearchFilters) -> tantivy.Query:
        """The user's query, and every given filter and the request's tenant matched exactly
        (Must, no effect on score)."""
        wanted = []
        for field, value in (("doc_type", filters.doc_type), ("batch_id", filters.batch_id)):
            if value is not None:
                wanted.append(tantivy.Query.term_query(self._schema, field, value,
                                                       index_option="basic"))
        scope = current_scope()
        if scope is not None and not self.outdated:
            wanted.append(tantivy.Query.term_query(self._schema, "tenant", scope.tenant,
                                                   index_option="basic"))
        if filters.path_prefix is not None:
            wanted.append(self._path_query(filters.path_prefix))
        if filters.created_from is not None or filters.created_before is not None:
            wanted.append(tantivy.Query.range_query(
                self._schema, "created_at", tantivy.FieldType.Date,
                _in_date_range(filters.created_from), _in_date_range(filters.created_before),
                include_upper=filters.created_before is None))
        if not wanted:
            return query
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, query)]
            + [(tantivy.Occur.Must, tantivy.Query.const_score_query(q, 0.0)) for q in wanted])

    def _path_query(self, prefix: str) -> tantivy.Query:
        """Documents whose source_path starts with `prefix`, cleaned as GET /api/documents
        cleans it: a folder ("2019/") is one term, any other prefix a walk of the paths."""
        low, _ = path_prefix_bounds(prefix)
        if low.endswith("/"):
            return tantivy.Query.term_query(self._schema, "folders", low, index_option="basic")
        return tantivy.Query.regex_query(self._schema, "source_path",
                                         _REGEX_SPECIAL.sub(r"\\\g<0>", low) + "(?s:.*)")

    def _type_counts(self, searcher: tantivy.Searcher, query: tantivy.Query) -> dict[str, int]:
        """Matches per document type, over every match (an aggregation on the fast column)."""
        if self.outdated:  # no fast column: walk the type terms (~2x the time, types are few)
            return dict(searcher.terms_with_prefix("doc_type", "", filter_query=query,
                                                   limit=MAX_FACET_TYPES))
        found = searcher.aggregate(query, {"types": {"terms": {"field": "doc_type",
                                                                "size": MAX_FACET_TYPES}}})
        return {b["key"]: int(b["doc_count"]) for b in found["types"]["buckets"]}

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
        self._adopt(index)
        self._reload()

    def _adopt(self, index: tantivy.Index) -> None:
        """Search `index` in its own schema: the current one, or an outdated one's."""
        self._index = index
        self._schema = index.schema
        # Written as it was made (no field it lacks), searched as it is (words unstemmed where
        # they were), until the rebuild the housekeeper starts is swapped in.
        self._lacks_fields = _lacks_new_fields(index.schema)
        self._has_pairs = _has_pairs(index.schema)
        if self.writable and not self._has_pairs and not self._lacks_fields:
            log.info("the search index at %s predates word pairs: phrases are found by position "
                     "(slower at common words); `docflow reindex` rebuilds it with them",
                     self.path)
        outdated = self._lacks_fields or _unstemmed(self._meta)
        if outdated and not self.outdated:
            log.warning("%s (%s)", OUTDATED, self.path)
        self.outdated = outdated
        self._schema_json = _schema_json(self._meta)

    def _current_index(self) -> tantivy.Index | None:
        """The index as of its last commit, reloading only when meta.json has changed."""
        self._check_open()
        if self._index is None:
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
        if not self.writable and _schema_json(self._meta) != self._schema_json:
            # A rebuild in another schema was swapped in (an outdated index replaced).
            index = _retry_on_vanished_segment(lambda: tantivy.Index.open(str(self.path)))
            index.config_reader("Manual")
            self._adopt(index)
        _retry_on_vanished_segment(self._index.reload)
        self._meta_seen = stamp


def _to_tantivy(doc: SearchDocument, *, outdated: bool = False,
                pairs: bool = True) -> tantivy.Document:
    fields: dict[str, object] = {"id": doc.id, "filename": doc.filename, "text": doc.text}
    if pairs:
        fields[PAIRS] = " ".join(word_pairs(doc.text))
    if doc.doc_type is not None:
        fields["doc_type"] = doc.doc_type
    if doc.batch_id is not None:
        fields["batch_id"] = doc.batch_id
    if not outdated:  # an older index's schema has none of these fields
        fields["tenant"] = doc.tenant
        if doc.source_path is not None:
            fields["source_path"] = doc.source_path
            fields["folders"] = _folders(doc.source_path)
        if doc.created_at is not None:
            fields["created_at"] = doc.created_at
    return tantivy.Document(**fields)


def _folders(path: str) -> list[str]:
    """Each folder `path` sits in, outermost first: "a/b/c.pdf" -> ["a/", "a/b/"]."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def _has_pairs(schema: tantivy.Schema) -> bool:
    """Whether an index in `schema` holds the word pairs (indexes made before them do not:
    they find phrases by position until `docflow reindex` rebuilds them)."""
    try:
        tantivy.Query.term_query(schema, PAIRS, "")
    except ValueError:
        return False
    return True


def _lacks_new_fields(schema: tantivy.Schema) -> bool:
    """Whether an index in `schema` was written without NEW_FIELDS (by an older docflow)."""
    try:
        for field in NEW_FIELDS - {"created_at"}:
            tantivy.Query.term_query(schema, field, "")
        tantivy.Query.range_query(schema, "created_at", tantivy.FieldType.Date,
                                  tantivy.MIN_DATETIME, None)
    except ValueError:
        return True
    return False


def _unstemmed(meta: pathlib.Path) -> bool:
    """Whether the index whose meta.json this is reads text or file names without stemming."""
    try:
        fields = json.loads(meta.read_text())["schema"]
    except (OSError, ValueError, KeyError):
        return False
    made = {f["name"]: f.get("options", {}).get("indexing", {}).get("tokenizer")
            for f in fields}
    return any(made.get(name) != _TOKENIZER for name in _QUERY_FIELDS)


def _schema_json(meta: pathlib.Path) -> str | None:
    """The schema recorded in meta.json, as text (None while there is no meta.json)."""
    try:
        return json.dumps(json.loads(meta.read_text())["schema"], sort_keys=True)
    except (FileNotFoundError, ValueError, KeyError):
        return None


def _in_date_range(moment: datetime | None) -> datetime | None:
    """`moment` within the dates tantivy holds (nanoseconds since 1970 in 64 bits: 1677-2262)."""
    if moment is None:
        return None
    return min(max(moment, tantivy.MIN_DATETIME), tantivy.MAX_DATETIME)


def _foreign_scope() -> bool:
    """A request acting for a tenant other than the default one (an index without tenants
    holds no document of it it could tell apart)."""
    scope = current_scope()
    return scope is not None and scope.tenant != DEFAULT_TENANT


def _keyword_query(index: tantivy.Index, reading: KeywordQuery,
                   tiers: bool = True) -> tantivy.Query:
    """BM25 over any of the words, lifted (`tiers`) by a tier for all the words and one for
    the phrase."""
    if reading.everything:
        return tantivy.Query.all_query()
    if not reading.root.clauses:
        return tantivy.Query.empty_query()
    clauses = [(tantivy.Occur.Must, _group_query(index, reading.root))]
    if not tiers:
        return clauses[0][1]
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
    quoted = '"' + " ".join(terms.words) + '"'
    if "text" not in fields or not _has_pairs(index.schema):
        return index.parse_query(quoted, fields)
    pairs = word_pairs(" ".join(terms.words))
    if not pairs:  # one word
        return index.parse_query(quoted, fields)
    # A phrase in the text: its pairs looked up first (they lead the intersection, being the
    # rarest), its positions checked only where they all are, its BM25 the phrase's own.
    in_text = tantivy.Query.boolean_query([
        (tantivy.Occur.Must, index.parse_query(quoted, ["text"])),
        (tantivy.Occur.Must, tantivy.Query.const_score_query(tantivy.Query.boolean_query([
            (tantivy.Occur.Must, tantivy.Query.term_query(index.schema, PAIRS, pair,
                                                          index_option="basic"))
            for pair in dict.fromkeys(pairs)]), 0.0))])
    others = [name for name in fields if name != "text"]
    if not others:
        return in_text
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, in_text),
                                        (tantivy.Occur.Should, index.parse_query(quoted, others))])


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
