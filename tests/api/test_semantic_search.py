"""Semantic and hybrid search: each document is embedded once, by the worker that classifies
it; the API embeds only the query. Driven through the real worker task, indexer and ASGI app,
on SQLite + tantivy and on PostgreSQL + its full-text search."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from docflow.api.app import create_app
from docflow.config import Settings
from docflow.pipeline.classify.embeddings import SentenceEncoder
from docflow.search import open_index
from docflow.store import Document, Store, open_store
from docflow.store import documents as docs
from docflow.store.batches import create_batch
from docflow.worker import runtime as runtime_module
from docflow.worker import tasks
from docflow.worker.classifier import ClassifierCache
from docflow.worker.indexer import index_pending
from tests.conftest import empty_postgres, put

GARAGE = ("Ridge Garage - invoice 4411. Front brake pads and discs replaced on the Volvo V70, "
          "two hours of labour. Total due EUR 340.00 within 14 days.")
LUBE = ("Quick Lube receipt. Oil change and tyre rotation for a Honda Civic. Paid by card, "
        "USD 89.00. Thank you for your visit.")
MATCH = ("The striker missed a penalty in extra time and the cup final ended in a goalless "
         "draw; the home fans booed the referee.")
CAKE = ("Whisk four eggs with sugar, fold in the flour and bake the sponge at 180 degrees for "
        "twenty-five minutes.")


@dataclass
class Stack:
    store: Store
    client: TestClient
    ids: dict[str, str]
    batches: dict[str, str]
    embedded: list[str] = field(default_factory=list)  # every text the encoder was given


@pytest.fixture(scope="module",
                params=["tantivy", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          minilm_dir) -> Iterator[Stack]:
    """Four documents processed by the worker task with zero-shot on, indexed, and the API;
    built once per backend (the tests only read, or put back what they add)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in ("DOCFLOW_BROKER_URL", "DOCFLOW_DATABASE_URL"):
            monkeypatch.delenv(name, raising=False)
        if request.param == "postgres":
            url = request.getfixturevalue("postgres_url")
            empty_postgres(url)
            monkeypatch.setenv("DOCFLOW_DATABASE_URL", url)
        monkeypatch.setenv("DOCFLOW_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        monkeypatch.setenv("DOCFLOW_SEARCH", request.param)
        monkeypatch.setenv("DOCFLOW_ZERO_SHOT", "true")
        settings = Settings()
        models = settings.resolved_data_dir / "models"
        models.mkdir(parents=True)
        (models / "embeddings").symlink_to(minilm_dir)  # converted once for the session
        embedded: list[str] = []
        real_embed = SentenceEncoder.embed

        def counting_embed(self: SentenceEncoder, texts: list[str]):
            embedded.extend(texts)
            return real_embed(self, texts)

        monkeypatch.setattr(SentenceEncoder, "embed", counting_embed)
        runtime_module._current = None
        monkeypatch.setattr(tasks, "classifiers", ClassifierCache(refresh_seconds=0))
        store = open_store(settings, migrate=True)
        with store.db.write() as session:
            batches = {"cars": create_batch(session, "upload").id,
                       "other": create_batch(session, "upload").id}
            ids = {}
            for name, body, batch in [("garage.txt", GARAGE, "cars"),
                                      ("lube.txt", LUBE, "cars"),
                                      ("match.txt", MATCH, "other"),
                                      ("cake.txt", CAKE, "other")]:
                (doc,) = docs.register_documents(
                    session, [put(store, body.encode(), f"archive/{batch}/{name}")],
                    batch_id=batches[batch])
                ids[name] = doc.id
        for doc_id in ids.values():
            assert tasks.process_document(doc_id) == "processed"
        with open_index(settings.search, settings.index_dir, writer=True,
                        database_url=settings.sqlalchemy_url) as index:
            assert index_pending(store, index, 100) == 4
        with TestClient(create_app(settings, configure_logs=False)) as client:
            yield Stack(store, client, ids, batches, embedded)
        store.db.dispose()
        runtime_module._current = None


def _search(stack: Stack, q: str, **params: str) -> dict:
    reply = stack.client.get("/api/search", params={"q": q, **params})
    assert reply.status_code == 200, reply.text
    return reply.json()


def _names(stack: Stack, body: dict) -> list[str]:
    by_id = {doc_id: name for name, doc_id in stack.ids.items()}
    return [by_id[hit["id"]] for hit in body["hits"]]


def test_each_document_is_embedded_once_and_kept(stack: Stack) -> None:
    for body in (GARAGE, LUBE, MATCH, CAKE):
        assert stack.embedded.count(body) == 1
    with stack.store.db.read() as session:
        rows = [session.get(Document, doc_id) for doc_id in stack.ids.values()]
    assert {(len(r.embedding), r.embedding_model) for r in rows} == {
        (384 * 4, "all-MiniLM-L6-v2/onnx-1")}
    # The same bytes uploaded again reuse the stored result, embedding included.
    with stack.store.db.write() as session:
        (twin,) = docs.register_documents(session, [put(stack.store, GARAGE.encode(), "again")])
        assert twin.embedding == rows[0].embedding
        assert twin.passages == rows[0].passages and twin.passages  # passages too
        session.delete(twin)  # the other tests expect the four documents alone
    assert stack.embedded.count(GARAGE) == 1


def test_semantic_search_finds_a_paraphrase_keyword_search_misses(stack: Stack) -> None:
    query = "automobile repair bill"  # no word of it is in either car document
    assert _search(stack, query, mode="keyword")["total"] == 0
    assert _search(stack, query)["mode"] == "hybrid"  # the default where documents are embedded
    before = len(stack.embedded)
    found = _search(stack, query, mode="semantic")
    assert stack.embedded[before:] == [query]  # only the query is embedded, once
    assert found["mode"] == "semantic" and found["total"] == 2
    assert sorted(_names(stack, found)) == ["garage.txt", "lube.txt"]  # not the cake, the cup
    scores = [h["score"] for h in found["hits"]]
    assert scores == sorted(scores, reverse=True) and 0.2 < scores[-1] <= scores[0] <= 1
    hit = next(h for h in found["hits"] if h["filename"] == "garage.txt")
    assert set(hit) == {"id", "filename", "source_path", "doc_type", "score", "snippet"}
    assert hit["snippet"].startswith("Ridge Garage - invoice 4411.")


def test_filters_apply_to_semantic_and_hybrid_hits(stack: Stack) -> None:
    query = "car maintenance costs"
    for mode in ("semantic", "hybrid"):
        everywhere = _names(stack, _search(stack, query, mode=mode))
        assert {"garage.txt", "lube.txt"} <= set(everywhere)
        other = _search(stack, query, mode=mode, batch_id=stack.batches["other"])
        assert set(_names(stack, other)) <= {"match.txt", "cake.txt"}
        garage_type = _search(stack, "Ridge Garage")["hits"][0]["doc_type"]
        typed = _search(stack, query, mode=mode, doc_type=garage_type)
        assert "garage.txt" in _names(stack, typed)
        assert {h["doc_type"] for h in typed["hits"]} == {garage_type}


def test_hits_of_every_mode_say_where_the_file_sat(stack: Stack) -> None:
    for mode, q in (("keyword", "garage"), ("semantic", "automobile repair bill"),
                    ("hybrid", "striker automobile repair")):
        hits = _search(stack, q, mode=mode)["hits"]
        assert hits, mode
        folder = {"garage.txt": "cars", "lube.txt": "cars", "match.txt": "other",
                  "cake.txt": "other"}
        assert [h["source_path"] for h in hits] == [
            f"archive/{folder[h['filename']]}/{h['filename']}" for h in hits], mode


def test_hybrid_search_fuses_words_and_meaning(stack: Stack) -> None:
    found = _search(stack, "striker automobile repair", mode="hybrid")
    names = _names(stack, found)
    assert {"match.txt", "garage.txt"} <= set(names)
    snippets = {name: hit["snippet"] for name, hit in zip(names, found["hits"], strict=True)}
    assert "<b>striker</b>" in snippets["match.txt"].lower()  # a keyword hit keeps its snippet
    assert "<b>" not in snippets["garage.txt"]  # found by meaning alone: its first lines
    assert "cake.txt" not in names
    page = _search(stack, "striker automobile repair", mode="hybrid", limit="1", offset="1")
    assert _names(stack, page) == names[1:2] and page["total"] == found["total"]


def _plain(settings: Settings) -> Settings:
    """The defaults, whatever a `stack` of another test left in the environment."""
    return Settings(data_dir=settings.data_dir, database_url=None, search="tantivy",
                    zero_shot=False)


def test_semantic_search_without_zero_shot_says_how_to_turn_it_on(settings: Settings) -> None:
    settings = _plain(settings)
    with TestClient(create_app(settings, configure_logs=False)) as client:
        reply = client.get("/api/search", params={"q": "anything", "mode": "semantic"})
        assert reply.status_code == 422
        assert reply.json()["code"] == "semantic_search_off"
        assert "DOCFLOW_ZERO_SHOT" in reply.json()["message"]
        assert client.get("/api/search", params={"q": "x", "mode": "fuzzy"}).status_code == 422
        spec = client.get("/openapi.json").json()
    parameters = {p["name"]: p for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    mode = parameters["mode"]
    assert "hybrid" in mode["description"] and "fused by their scores" in mode["description"]
    assert "503" in spec["paths"]["/api/search"]["get"]["responses"]


def test_without_the_embedding_weights_semantic_search_is_a_clear_503(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from docflow.pipeline.classify import embeddings as embedding_module

    def not_installed():
        raise embedding_module.EmbeddingModelMissing("The all-MiniLM-L6-v2 weights are not "
                                                     "installed.")

    monkeypatch.setattr(embedding_module, "bundled_weights_dir", not_installed)
    settings = _plain(settings)
    settings.zero_shot = True
    with TestClient(create_app(settings, configure_logs=False)) as client:
        reply = client.get("/api/search", params={"q": "anything", "mode": "hybrid"})
        keyword = client.get("/api/search", params={"q": "anything"})
    assert reply.status_code == 503 and reply.json()["code"] == "embedding_model_missing"
    assert keyword.status_code == 200  # keyword search does not need the model


def test_the_search_command_has_the_same_modes(stack: Stack) -> None:
    from typer.testing import CliRunner

    from docflow.cli import app

    runner = CliRunner()
    semantic = runner.invoke(app, ["search", "automobile repair bill", "--mode", "semantic"])
    assert semantic.exit_code == 0, semantic.output
    assert "garage.txt" in semantic.output and "(semantic)" in semantic.output
    keyword = runner.invoke(app, ["search", "automobile repair bill", "--mode", "keyword"])
    assert keyword.exit_code == 0 and "0 documents match" in keyword.output
    off = runner.invoke(app, ["search", "automobile repair bill", "--mode", "hybrid"],
                        env={"DOCFLOW_ZERO_SHOT": "false"})
    assert off.exit_code == 2 and "DOCFLOW_ZERO_SHOT=true" in off.output
