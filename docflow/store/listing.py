"""Listing documents a page at a time: filters, orders, and pages that resume from a key.

Every filter reads an index range already in the listing's order (migration 0017), so a page
after a cursor costs the same at document 45,000 as at document 1, on SQLite and PostgreSQL
(tests/store/test_query_plans.py). Several filters at once read the range of one of them and
check the others on its rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from docflow.store.counts import counted
from docflow.store.db import Database
from docflow.store.documents import (
    ANY_WARNING,
    path_prefix_conditions,
    warning_code_condition,
)
from docflow.store.keyset import Key, Keyset, Page, read_page
from docflow.store.models import Document


class DocumentOrder(StrEnum):
    OLDEST = "oldest"  # by when they were added, then id
    NEWEST = "newest"
    PATH = "path"  # by source_path, then id; documents without a path are not listed


KEYSETS = {
    DocumentOrder.OLDEST: Keyset((Document.created_at, Document.id)),
    DocumentOrder.NEWEST: Keyset((Document.created_at, Document.id), descending=True),
    DocumentOrder.PATH: Keyset((Document.source_path, Document.id)),
}


@dataclass(frozen=True)
class DocumentFilter:
    batch_id: str | None = None
    status: str | None = None
    doc_type: str | None = None
    parent_id: str | None = None
    needs_review: bool | None = None
    path_prefix: str | None = None  # "2019/": that folder and below; "2019/inv": names too
    warning: str | None = None  # a warning code ("no_text"), or "any"

    def as_dict(self) -> dict[str, Any]:
        """The filters that are set, by name."""
        return {name: value for name, value in self.__dict__.items() if value is not None}


def _conditions(flt: DocumentFilter, order: DocumentOrder) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if flt.batch_id:
        conditions.append(Document.batch_id == flt.batch_id)
    if flt.status:
        conditions.append(Document.status == flt.status)
    if flt.doc_type:
        conditions.append(Document.doc_type == flt.doc_type)
    if flt.parent_id:
        conditions.append(Document.parent_id == flt.parent_id)
    if flt.needs_review is not None:
        conditions.append(Document.needs_review == flt.needs_review)
    if flt.warning:
        if flt.warning != ANY_WARNING:
            # Said apart, so the planner may read the partial index of warned documents.
            conditions.append(Document.warning_codes.is_not(None))
        conditions.append(warning_code_condition(flt.warning))
    if flt.path_prefix:
        conditions += path_prefix_conditions(flt.path_prefix)
    elif order == DocumentOrder.PATH:
        conditions.append(Document.source_path.is_not(None))
    return conditions


def list_documents(session: Session, flt: DocumentFilter, limit: int, *,
                   order: DocumentOrder = DocumentOrder.OLDEST, after: Key | None = None,
                   before: Key | None = None, offset: int = 0) -> Page[Document]:
    """A page of the documents that match: the first `limit` after the key `after`, the last
    `limit` before `before`, or the first after skipping `offset` (which costs O(offset))."""
    statement = select(Document).where(*_conditions(flt, order))
    return read_page(session, statement, KEYSETS[order], limit, after=after, before=before,
                     offset=offset, keys_first=_keys_first(flt, order))


def _keys_first(flt: DocumentFilter, order: DocumentOrder) -> bool:
    """Filters whose index holds the order's columns, and the column they check (migration
    0020), but whose range is in another order (a folder by date) or whose check no planner
    can estimate (a warning code in the list): the page's keys are picked in the index, then
    only the page's rows are read, never the range's."""
    by_folder = bool(flt.path_prefix) and order != DocumentOrder.PATH
    return by_folder or (flt.warning is not None and flt.warning != ANY_WARNING)


# Filters the counters answer (store/counts.py): a few rows instead of every match.
COUNTED_FILTERS = frozenset({"batch_id", "status"})


def count_documents(session: Session, flt: DocumentFilter) -> int:
    """How many documents match. By tenant, status and batch alone: from the counters; any
    other filter reads every match (in an index), so only on request."""
    if flt.as_dict().keys() <= COUNTED_FILTERS:
        return counted(session, flt.batch_id, flt.status)
    return session.scalar(select(func.count()).select_from(Document)
                          .where(*_conditions(flt, DocumentOrder.OLDEST))) or 0


def walk_documents(db: Database, flt: DocumentFilter, page_size: int = 1000,
                   order: DocumentOrder = DocumentOrder.OLDEST) -> Iterator[list[Document]]:
    """Every matching document, a page at a time, each page read after the last one's key in
    a read of its own (no transaction stays open while the caller writes a page out)."""
    after: Key | None = None
    while True:
        with db.read() as session:
            page = list_documents(session, flt, page_size, order=order, after=after)
        if page.rows:
            yield page.rows
        if not page.more_after:
            return
        after = KEYSETS[order].key_of(page.rows[-1])


def document_key(order: DocumentOrder, doc: Document) -> Key:
    """Where `doc` stands in `order`: what a page after (or before) it starts from."""
    return KEYSETS[order].key_of(doc)
