"""Property-based run of the whole OpenAPI contract (schemathesis) against the real ASGI app:
no request, valid or not, gets a server error, a status code or content type the spec does not
list, or a body that does not match its schema."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from docflow.api.app import create_app
from docflow.broker import EmbeddedBroker
from docflow.config import Settings
from docflow.search import SearchDocument, open_index
from docflow.store import open_store, workers
from tests.conftest import empty_postgres

# Examples per operation and mode: enough to reach every parameter's edges, bounded so the run
# takes a minute or two on two cores; derandomized, so a failure reproduces every time. The
# PostgreSQL round asks fewer: the routes and their validation are the same code, only the
# queries behind them differ.
EXAMPLES = {"sqlite": 50, "postgres": 20}
# Sent with every request (the place for a token once routes require one).
HEADERS: dict[str, str] = {}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api_settings(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    """A healthy service: a broker, a worker's heartbeat, an index with one document; on SQLite
    with the tantivy index, and on PostgreSQL with its full-text search."""
    if request.param == "postgres":
        settings.database_url = request.getfixturevalue("postgres_url")
        settings.search = "postgres"
        empty_postgres(settings.database_url)
    broker = EmbeddedBroker(settings.broker_dir, settings.broker_url_file)
    settings.broker_url = broker.start()
    settings.worker_stale_seconds = 3600.0  # the one heartbeat stays fresh for the whole run
    settings.max_batch_files = 5
    settings.max_file_bytes = 100_000
    settings.min_free_disk_bytes = 0
    store = open_store(settings, migrate=True)
    index = open_index(settings.search, settings.index_dir, writer=True,
                       database_url=settings.sqlalchemy_url)
    index.index([SearchDocument("d1", "hello.txt", "letter", "b1", "hello world invoice")])
    index.close()
    with store.db.write() as session:
        workers.heartbeat(session, name="w@test", hostname="test", pid=1, concurrency=1,
                          queues="default")
    store.db.dispose()
    yield settings
    broker.stop()


def _problem(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " | ".join(lines[1:8])


def _run(operation: schemathesis.APIOperation, mode: GenerationMode, examples: int,
         requests: Counter[str], failures: dict[str, set[str]],
         known: dict[str, str] | None = None) -> None:
    label = f"{operation.label} [{mode.value}{', known ids' if known else ''}]"
    names = {p.name for p in operation.path_parameters}
    fixed = {name: value for name, value in (known or {}).items() if name in names}

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
    def call(case: schemathesis.Case) -> None:
        requests[label] += 1
        try:
            case.call_and_validate(headers=HEADERS, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # collect all, to report them at once
            failures.setdefault(label, set()).add(_problem(exc))

    try:
        call()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, label  # no input of it can be made invalid


# The operations in this many parts, each its own test: a run on several processes (pytest-xdist)
# shares them out instead of waiting minutes at its end for one process to send them all.
PARTS = 4


# Thousands of generated requests: slow on a loaded machine, and never stuck (each is bounded).
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("part", range(PARTS), ids=[f"part{n + 1}of{PARTS}" for n in range(PARTS)])
def test_no_request_breaks_the_openapi_contract(api_settings: Settings, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                part: int) -> None:
    examples = EXAMPLES["postgres" if api_settings.search == "postgres" else "sqlite"]
    app = create_app(api_settings, configure_logs=False)
    with TestClient(app) as client:  # a document, its task and batch, for the known-id round
        sent = client.post("/api/batch-upload", files=[
            ("files", ("invoice.txt", b"Invoice total 12.50 EUR", "text/plain"))]).json()
    known = {"document_id": sent["documents"][0]["document_id"], "batch_id": sent["batch_id"],
             "task_id": sent["documents"][0]["task_id"], "name": "invoice"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    requests: Counter[str] = Counter()
    failures: dict[str, set[str]] = {}
    every = sorted((result.ok() for result in schema.get_all_operations()),
                   key=lambda operation: operation.label)
    operations = every[part::PARTS]
    assert operations, f"no operation left for part {part + 1} of {PARTS}"
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run(operation, mode, examples, requests, failures)
        if set(known) & {p.name for p in operation.path_parameters}:
            # Random ids only meet 404s: the same routes again on a real document and batch.
            _run(operation, GenerationMode.POSITIVE, examples, requests, failures, known)
    with capsys.disabled():
        print(f"\nschemathesis, part {part + 1} of {PARTS}: {sum(requests.values())} requests, "
              f"{len(operations)} of {len(every)} operations, "
              f"{sum(len(v) for v in failures.values())} distinct failures")
        for label, problems in sorted(failures.items()):
            print(f"  {label}: " + "\n    ".join(sorted(problems)))
    assert failures == {}
