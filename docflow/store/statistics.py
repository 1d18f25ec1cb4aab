"""Planner statistics on PostgreSQL, kept fresh by docflow itself where autovacuum is off or
behind.

The hot lookups (a document's twin by content hash, the listing's pages, the indexer's pending
documents) stay on their index only while PostgreSQL knows how many rows a value matches. A
server with autovacuum off never learns it: at 60,000 documents, never analyzed, the completed
twin lookup walked a tenant's completed documents (104 ms, twice per document) instead of one
hash (0.03 ms), and the soak's per-document cost grew with the table. The housekeeper calls
`refresh_statistics` every minute; it analyzes a table when as many rows changed since its last
ANALYZE as autovacuum's default rule asks (50 rows and a tenth of the table), so where
autovacuum runs it has nearly always done so first and this costs one catalog query.
SQLite is left as it is: its plans are tested with and without statistics.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import text

from docflow.store.db import Database

log = logging.getLogger(__name__)

# The tables whose plans matter, as many rows as they get: documents (and their passages) and
# counters, extracted texts, batches, the full-text search's table, the OCR parts of scans.
TABLES = ("documents", "extractions", "batches", "document_counts", "search_index", "ocr_parts")
# autovacuum_analyze_threshold and autovacuum_analyze_scale_factor, their defaults.
THRESHOLD_ROWS = 50
SCALE_FACTOR = 0.1

_STALE = text("""
    SELECT relname FROM pg_stat_user_tables
    WHERE schemaname = current_schema() AND relname = ANY(:tables)
      AND n_mod_since_analyze > :threshold + :scale * n_live_tup""")


def refresh_statistics(db: Database) -> list[str]:
    """ANALYZE each of TABLES whose rows changed enough since its last ANALYZE (PostgreSQL;
    nothing on SQLite). Returns the tables analyzed."""
    if db.is_sqlite:
        return []
    with db.engine.connect() as conn:
        stale = list(conn.execute(_STALE, {"tables": list(TABLES), "threshold": THRESHOLD_ROWS,
                                           "scale": SCALE_FACTOR}).scalars())
        for table in stale:  # names from TABLES only: safe to quote into the statement
            started = time.monotonic()
            conn.execute(text(f'ANALYZE "{table}"'))
            conn.commit()
            log.info("analyzed %s for the query planner in %.0f ms (autovacuum had not)", table,
                     1000 * (time.monotonic() - started))
    return stale
