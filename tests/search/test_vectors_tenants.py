"""Tenants in both vector indexes: a search in one tenant's scope walks that tenant's own graph
(its usearch graph file, its pgvector partition), never returns another tenant's documents,
finds a small tenant's nearest beside a big one as well as exact search does, and forgets or
replaces a document within its tenant only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from docflow.search import vectors_usearch
from docflow.search.vectors import VectorDocument, VectorIndex, open_vectors
from docflow.store.scope import tenant_scope
from tests.conftest import empty_postgres
from tests.search.test_vectors import DIM, MODEL, corpus, exact, recall, unit

BACKENDS = ["usearch", pytest.param("pgvector", marks=pytest.mark.postgres)]

OpenVectors = Callable[..., VectorIndex]


@pytest.fixture(params=BACKENDS)
def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenVectors]:
    """Opens handles on one fresh vector index of the backend: `writer=True` is the indexer."""
    url = None
    if request.param == "pgvector":
        url = request.getfixturevalue("pgvector_url")
        empty_postgres(url)
    handles: list[VectorIndex] = []

    def _open(*, writer: bool) -> VectorIndex:
        handle = open_vectors(request.param, tmp_path / "vectors", writer=writer, model=MODEL,
                              dimension=DIM, database_url=url)
        handles.append(handle)
        return handle

    yield _open
    for handle in reversed(handles):
        handle.close()


def of_tenant(docs: list[VectorDocument], tenant: str, prefix: str) -> list[VectorDocument]:
    return [replace(d, id=prefix + d.id[len(prefix):], tenant=tenant) for d in docs]


def ids_in(reader: VectorIndex, tenant: str | None, query: np.ndarray,
           limit: int = 10) -> list[str]:
    if tenant is None:
        found = reader.search(query, limit=limit, min_similarity=-1.0)
    else:
        with tenant_scope(tenant):
            found = reader.search(query, limit=limit, min_similarity=-1.0)
    return [n.document_id for n in found.neighbours]


def test_a_tenant_finds_its_own_documents_only_even_when_another_has_the_same_ones(
        open_backend: OpenVectors) -> None:
    """globex holds a twin of every acme document (the same vectors, another id): acme's
    searches still find acme's alone, in the graph and among the recent passages alike."""
    writer = open_backend(writer=True)
    if isinstance(writer, vectors_usearch.UsearchVectors):
        writer.recent_limit = 1000  # the first 200 documents go into the graphs, the rest wait
    acme = of_tenant(corpus(300, seed=1), "acme", "a")
    globex = of_tenant(acme, "globex", "g")
    for start in range(0, 300, 100):
        writer.index(acme[start : start + 100] + globex[start : start + 100])
    reader = open_backend(writer=False)
    for doc in acme[::15]:
        query = doc.vectors[0]
        twin = "g" + doc.id[1:]
        mine, theirs = ids_in(reader, "acme", query), ids_in(reader, "globex", query)
        assert mine[0] == doc.id and all(i.startswith("a") for i in mine), mine
        assert theirs[0] == twin and all(i.startswith("g") for i in theirs), theirs
        assert {doc.id, twin} == set(ids_in(reader, None, query, limit=2))  # the system: both
        assert ids_in(reader, "initech", query) == []  # a tenant without documents
    with tenant_scope("acme"):
        assert reader.count() == 300
    assert reader.count() == 600

    # Deleting and replacing touch the document's own tenant: globex's twins stay found.
    other = unit(np.ones(DIM))
    writer.delete([acme[0].id])
    writer.index([VectorDocument(acme[1].id, "letter", "batch0", other[None, :], "acme")])
    checks = [lambda: ids_in(reader, "acme", acme[0].vectors[0], 3),
              lambda: ids_in(reader, "globex", acme[0].vectors[0], 1),
              lambda: ids_in(reader, "acme", acme[1].vectors[0], 3),
              lambda: ids_in(reader, "globex", acme[1].vectors[0], 1),
              lambda: ids_in(reader, "acme", other, 1),
              lambda: ids_in(reader, "globex", other, 3)]

    def assert_kept_apart() -> None:
        found = [check() for check in checks]
        assert acme[0].id not in found[0] and found[1] == [globex[0].id]
        assert acme[1].id not in found[2] and found[3] == [globex[1].id]
        assert found[4] == [acme[1].id] and acme[1].id not in found[5]

    assert_kept_apart()
    if hasattr(writer, "flush"):
        writer.flush()  # the graphs switch: each tenant's drops leave its own graph
        assert_kept_apart()
        assert sorted(vectors_usearch._graph_files(vectors_usearch._settings(
            reader._connection()))) == ["acme", "globex"]  # type: ignore[attr-defined]


def test_a_small_tenant_beside_a_big_one_is_found_as_well_as_by_exact_search(
        open_backend: OpenVectors, monkeypatch: pytest.MonkeyPatch) -> None:
    """100 documents beside 2,500 of another tenant, from the same topics: through the small
    tenant's own graph (not exactly, not through a filter on everyone's graph), the top 10
    are all there and all its own."""
    monkeypatch.setattr(vectors_usearch, "EXACT_BELOW", 50)  # ~300 passages: via the graph
    writer = open_backend(writer=True)
    big = of_tenant(corpus(2500, seed=2), "big", "b")
    small = of_tenant(corpus(100, seed=3), "small", "s")
    for start in range(0, 2500, 500):
        writer.index(big[start : start + 500] + small[start // 25 : start // 25 + 20])
    if hasattr(writer, "flush"):
        writer.flush()
    reader = open_backend(writer=False)
    rng = np.random.default_rng(4)
    scores = []
    for _ in range(30):
        query = unit(rng.standard_normal(DIM))
        found = ids_in(reader, "small", query)
        assert len(found) == 10 and all(i.startswith("s") for i in found), found
        scores.append(recall(found, exact(small, query, 10)))
    assert np.mean(scores) >= 0.95, scores
