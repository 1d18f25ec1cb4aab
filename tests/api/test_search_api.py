"""GET /api/search with folder and date filters, date order and counts per type, through the
real app on a real store and tantivy index; every bad filter is a JSON 422."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from docflow.api.app import create_app
from docflow.config import Settings
from docflow.search import open_index, postgres_index
from docflow.store import Document, DocumentStatus, open_store
from docflow.store.documents import save_extraction
from docflow.worker.indexer import index_pending
from tests.conftest import empty_postgres

UPLOADED = {  # path in the uploaded folder: (upload day, type)
    "2019/invoice-a.txt": ("2019-03-01", "invoice"),
    "2019/q1/invoice-b.txt": ("2019-03-02", "invoice"),
    "2019-old/letter.txt": ("2020-01-05", "letter"),
    "2021/memo.txt": ("2021-06-30", "memo"),
}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A folder of four documents uploaded on four days, completed and indexed."""
    yield from _four_documents(settings)


def _four_documents(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, configure_logs=False)) as c:
        files = [("files", (path, f"quarterly report {path}".encode(), "text/plain"))
                 for path in UPLOADED]
        assert c.post("/api/batch-upload", files=files).status_code == 202
        store = open_store(settings)
        with store.db.write() as session:
            for doc in session.query(Document).all():
                day, doc_type = UPLOADED[doc.source_path]
                save_extraction(session, doc.sha256, format="text", mime_type="text/plain",
                                text=f"quarterly report {doc.filename}", pages=[], page_count=1)
                session.execute(update(Document).where(Document.id == doc.id).values(
                    status=DocumentStatus.COMPLETED, doc_type=doc_type,
                    finished_at=datetime.now(UTC),
                    created_at=datetime.fromisoformat(f"{day}T12:00:00+00:00")))
        index = open_index(settings.search, settings.index_dir, writer=True,
                           database_url=settings.database_url)
        assert index_pending(store, index, 100) == len(UPLOADED)
        index.close()
        store.db.dispose()
        yield c


@pytest.fixture(params=["tantivy", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_client(request: pytest.FixtureRequest, settings: Settings) -> Iterator[TestClient]:
    """The four documents on SQLite with tantivy, or on PostgreSQL with its full-text index."""
    if request.param == "postgres":
        settings.database_url = request.getfixturevalue("postgres_url")
        empty_postgres(settings.database_url)
        settings.search = "postgres"
    yield from _four_documents(settings)


def _paths(body: dict) -> list[str]:
    return [h["source_path"] for h in body["hits"]]


def test_a_folder_and_a_date_range_narrow_the_hits_and_their_counts(client: TestClient) -> None:
    r = client.get("/api/search", params={"q": "report", "path_prefix": "2019/"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(_paths(body)) == ["2019/invoice-a.txt", "2019/q1/invoice-b.txt"]
    assert body["facets"] == {"doc_type": {"invoice": 2}}
    r = client.get("/api/search", params={"q": "report", "date_from": "2019-03-02",
                                          "date_to": "2020-01-05"})
    assert sorted(_paths(r.json())) == ["2019-old/letter.txt", "2019/q1/invoice-b.txt"]


def test_counts_per_type_cover_every_match_while_a_page_shows_one(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "report", "limit": 1}).json()
    assert (body["total"], len(body["hits"])) == (4, 1)
    assert body["facets"] == {"doc_type": {"invoice": 2, "letter": 1, "memo": 1}}
    narrowed = client.get("/api/search", params={"q": "report", "doc_type": "invoice"}).json()
    assert narrowed["facets"] == {"doc_type": {"invoice": 2}}
    off = client.get("/api/search", params={"q": "report", "facets": "false"}).json()
    assert off["facets"] is None and off["total"] == 4


def test_hits_sorted_by_date_come_newest_or_oldest_first(client: TestClient) -> None:
    newest = client.get("/api/search", params={"q": "report", "sort": "date"}).json()
    assert _paths(newest) == ["2021/memo.txt", "2019-old/letter.txt", "2019/q1/invoice-b.txt",
                              "2019/invoice-a.txt"]
    assert newest["sort"] == "date" and newest["mode"] == "keyword"
    oldest = client.get("/api/search", params={"q": "*", "sort": "date_asc", "limit": 2}).json()
    assert _paths(oldest) == ["2019/invoice-a.txt", "2019/q1/invoice-b.txt"]


def test_the_widest_dates_are_answered(client: TestClient) -> None:
    r = client.get("/api/search", params={"q": "report", "date_from": "0001-01-01",
                                          "date_to": "9999-12-31"})
    assert (r.status_code, r.json()["total"]) == (200, 4)


@pytest.mark.parametrize(("params", "code"), [
    ({"date_from": "2024-13-01"}, "invalid_request"),
    ({"date_to": "yesterday"}, "invalid_request"),
    ({"date_from": "2024-02-30"}, "invalid_request"),
    ({"date_from": "2024-03-02", "date_to": "2024-03-01"}, "invalid_date_range"),
    ({"path_prefix": "x" * 1_025}, "invalid_request"),
    ({"sort": "random"}, "invalid_request"),
    ({"sort": "date", "mode": "semantic"}, "sort_needs_keyword"),
    ({"sort": "date_asc", "mode": "hybrid"}, "sort_needs_keyword"),
    ({"facets": "maybe"}, "invalid_request"),
])
def test_bad_filters_are_json_422s(client: TestClient, params: dict, code: str) -> None:
    r = client.get("/api/search", params={"q": "report", **params})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/json"
    assert (r.json()["code"], bool(r.json()["message"])) == (code, True)


def test_openapi_documents_the_filters_and_the_counts(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    for name in ("path_prefix", "date_from", "date_to", "sort", "facets"):
        assert params[name].get("description"), name
    assert params["path_prefix"]["schema"]["anyOf"][0]["maxLength"] == 1024
    assert params["sort"]["schema"]["$ref"].endswith("SearchSort")
    facets = spec["components"]["schemas"]["SearchFacets"]["properties"]["doc_type"]
    assert "every match" in facets["description"]
    assert "SearchFacets" in str(spec["components"]["schemas"]["SearchResponse"])
    response = spec["components"]["schemas"]["SearchResponse"]["properties"]
    assert "stopped counting" in response["total_is_lower_bound"]["description"]


def test_a_word_in_more_documents_than_postgres_ranks_says_at_least_and_pages_end_there(
        any_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL counts and ranks a keyword query's first RANKED_MATCHES matches (1,000; two
    here), not all of them (1.5 s for a word in a third of 500,000 documents): `total` is then
    a lower bound, and says so; the counts per type cover the same matches. tantivy counts
    every match. Ordered by date, the page is still the newest of every match."""
    monkeypatch.setattr(postgres_index, "RANKED_MATCHES", 2)
    postgres = any_client.app.state.docflow.settings.search == "postgres"
    body = any_client.get("/api/search", params={"q": "report"}).json()
    if postgres:
        assert (body["total"], body["total_is_lower_bound"]) == (2, True)
        assert sum(body["facets"]["doc_type"].values()) == 2
        assert len(body["hits"]) == 2
    else:
        assert (body["total"], body["total_is_lower_bound"]) == (4, False)
        assert body["facets"] == {"doc_type": {"invoice": 2, "letter": 1, "memo": 1}}
    # A narrower query is counted exactly on both.
    narrow = any_client.get("/api/search", params={"q": "report", "doc_type": "invoice"}).json()
    assert (narrow["total"], narrow["total_is_lower_bound"]) == (2, False)
    newest = any_client.get("/api/search", params={"q": "report", "sort": "date",
                                                   "limit": 1}).json()
    assert _paths(newest) == ["2021/memo.txt"]
    assert newest["total_is_lower_bound"] is postgres
    # Several words: all-words and phrase matches are ranked even past the first matches.
    both = any_client.get("/api/search", params={"q": "report memo"}).json()
    assert _paths(both)[0] == "2021/memo.txt"
    assert both["total_is_lower_bound"] is postgres
