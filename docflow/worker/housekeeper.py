"""The housekeeper process: polls the indexer every second (it commits by size or age) and
runs the reconciler every few, asks for a tenant's classifier to be trained again once enough
new labels of that tenant came in, and now and then deletes originals no document refers to.

`docflow serve` starts one; in scale-out mode run exactly one per search index.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from docflow.config import Settings
from docflow.observability.documents import batch_indexed
from docflow.search import open_index
from docflow.search.reindex import (
    adopt_rebuilt,
    backfill_new_vector_index,
    rebuild_outdated,
    upgrade_vector_tenants,
)
from docflow.search.vectors import open_vector_index
from docflow.store import Store, open_store
from docflow.store.orphans import sweep_orphans
from docflow.store.statistics import refresh_statistics
from docflow.store.tenants import list_tenants
from docflow.worker.dispatch import Dispatcher
from docflow.worker.indexer import CommitPolicy, Indexer
from docflow.worker.reconciler import reconcile
from docflow.worker.training import labels_since

log = logging.getLogger(__name__)
TRAINING_GAP_SECONDS = 300.0
STATISTICS_SECONDS = 60.0  # how often the planner's statistics are checked (PostgreSQL)


def run_housekeeper(settings: Settings, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)

    store = open_store(settings, migrate=True)
    index = open_index(settings.search, settings.index_dir, writer=True,
                       database_url=settings.sqlalchemy_url, pool=settings.search_pool)
    vectors = open_vector_index(settings, writer=True)
    upgrade_vector_tenants(store, vectors)  # before the indexer adds a passage to it
    backfill_new_vector_index(store, vectors)
    rebuild_outdated(settings, store, index, stop.is_set)
    dispatcher = Dispatcher(settings)
    indexer = Indexer(store, index, CommitPolicy(settings.index_batch_size,
                                                 settings.index_commit_seconds),
                      on_indexed=lambda n, s: batch_indexed(settings, n, s), vectors=vectors)
    log.info("housekeeper started: indexing %d documents at a time or after %.1fs, "
             "reconciling every %.0fs", settings.index_batch_size,
             settings.index_commit_seconds, settings.reconcile_interval_seconds)
    next_reconcile = time.monotonic() + min(5.0, settings.reconcile_interval_seconds)
    next_training: dict[str, float] = {}  # tenant -> when its training may be asked again
    next_sweep = time.monotonic() + 60.0
    next_statistics = time.monotonic()
    try:
        while not stop.is_set():
            try:
                index, vectors = adopt_rebuilt(settings, store, index, vectors)
                # A rebuild swapped in reopens both writers: the indexer goes on with the new.
                indexer.index, indexer.vectors = index, vectors
                indexer.poll(stop)
                if time.monotonic() >= next_reconcile:
                    reconcile(store, dispatcher, settings)
                    next_reconcile = time.monotonic() + settings.reconcile_interval_seconds
                    _ask_for_training(store, settings, dispatcher, next_training)
                if time.monotonic() >= next_statistics:
                    next_statistics = time.monotonic() + STATISTICS_SECONDS
                    refresh_statistics(store.db)
                if settings.orphan_grace_hours > 0 and time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + settings.orphan_sweep_hours * 3600
                    # In a thread: walking every original must not hold up indexing.
                    threading.Thread(target=_sweep, args=(store, settings), name="orphan-sweep",
                                     daemon=True).start()
            except Exception:
                log.exception("housekeeping round failed; trying again")
            stop.wait(settings.index_interval_seconds)
    finally:
        index.close()
        if vectors is not None:
            vectors.close()
        dispatcher.close()
        store.db.dispose()
        log.info("housekeeper stopped")


def _ask_for_training(store: Store, settings: Settings, dispatcher: Dispatcher,
                      next_training: dict[str, float]) -> None:
    """Ask for each tenant's classifier to be trained once enough new labels of its own came
    in; one request per tenant at a time: the new model resets its count when it lands."""
    with store.db.read() as session:
        tenants = [t.name for t in list_tenants(session)]
    for tenant in tenants:
        if (time.monotonic() >= next_training.get(tenant, 0.0)
                and labels_since(store, settings, tenant) >= settings.retrain_after_labels
                and dispatcher.send_training(tenant)):
            next_training[tenant] = time.monotonic() + TRAINING_GAP_SECONDS


def _sweep(store: Store, settings: Settings) -> None:
    try:
        with store.db.exclusive("docflow-orphan-sweep") as mine:
            if mine:  # one host sweeps at a time
                sweep_orphans(store.db, store.blobs, settings.orphan_grace_hours * 3600)
    except Exception:
        log.exception("orphan sweep failed; it runs again later")
