"""Keyset pages: a page starts right after (or ends right before) the sort key of a row, never
at a number of rows to skip, so the thousandth page costs what the first one costs.

The order must be total (its last column unique: the id), and an index must hold its columns
right after the filter's equality columns, so that "after this key" is one index range: one
row-value comparison, `(created_at, id) > (:c, :i)`, which SQLite and PostgreSQL both seek to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, literal, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")
Key = tuple[Any, ...]


@dataclass(frozen=True)
class Keyset:
    """An order of rows by `columns` (the last one unique), all ascending or all descending."""

    columns: tuple[InstrumentedAttribute[Any], ...]
    descending: bool = False

    def order_by(self, backwards: bool = False) -> list[ColumnElement[Any]]:
        down = self.descending != backwards
        return [c.desc() if down else c.asc() for c in self.columns]

    def past(self, key: Key, backwards: bool = False) -> ColumnElement[bool]:
        """Rows that come after `key` in this order (before it, `backwards`)."""
        if len(key) != len(self.columns):
            raise ValueError(f"a key of {len(self.columns)} values, not {len(key)}")
        bound = tuple_(*(literal(v, c.type) for c, v in zip(self.columns, key, strict=True)))
        row = tuple_(*self.columns)
        return row < bound if self.descending != backwards else row > bound

    def key_of(self, row: object) -> Key:
        return tuple(getattr(row, c.key) for c in self.columns)


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    more_after: bool  # rows follow the last one (in this order, with this filter)
    more_before: bool  # rows precede the first one


def read_page(session: Session, statement: Select[tuple[T]], keyset: Keyset, limit: int, *,
              after: Key | None = None, before: Key | None = None,
              offset: int = 0, keys_first: bool = False) -> Page[T]:
    """`limit` rows of `statement` in `keyset` order: the first ones after `after`, the last
    ones before `before`, or (neither) the first ones after skipping `offset`.

    `keys_first`: pick the page's keys in a subquery, then read those rows alone. For a filter
    whose index range is not in the page's order but holds the order's columns (a folder, by
    date): the database sorts the range's index entries, not its rows. The order's values
    must sort in Python as in the database (dates, hex ids)."""
    if after is not None and before is not None:
        raise ValueError("a page starts after a key or ends before one, not both")
    backwards = before is not None
    if after is not None or before is not None:
        statement = statement.where(keyset.past(after or before or (), backwards))
    order = keyset.order_by(backwards)
    # One row more than asked says whether there is more, without counting.
    statement = statement.order_by(*order).offset(offset).limit(limit + 1)
    if keys_first:
        unique = keyset.columns[-1]
        entity = statement.column_descriptions[0]["entity"]
        # No ORDER BY: the rows are looked up by their unique key (an index walk in the
        # order's index would test every row in it) and put in order here.
        page = statement.with_only_columns(unique).subquery()
        statement = select(entity).join(page, unique == page.c[unique.key])
    rows: Sequence[T] = session.scalars(statement).all()
    if keys_first:
        rows = sorted(rows, key=keyset.key_of, reverse=keyset.descending != backwards)
    more = len(rows) > limit
    kept = list(rows[:limit])
    if backwards:
        kept.reverse()
        return Page(kept, more_after=True, more_before=more)
    return Page(kept, more_after=more, more_before=after is not None or offset > 0)
