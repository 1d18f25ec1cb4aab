"""The `docflow` command: serve, worker, ingest, search, status and friends."""

from __future__ import annotations

import html
import itertools
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from docflow.auth import cli as auth_cli
from docflow.auth import tenant_cli
from docflow.client.uploader import MAX_CONCURRENCY
from docflow.config import Settings
from docflow.search import SearchMode, SearchSort

if TYPE_CHECKING:
    from docflow.store import Document, Store

app = typer.Typer(help="docflow: turn a pile of documents into searchable, classified, "
                  "structured data.\n\nStart everything with `docflow serve`, then open "
                  "http://127.0.0.1:8000/docs.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
console = Console()
auth_cli.register(app)  # docflow token ..., docflow user ...
tenant_cli.register(app)  # docflow tenant ...

DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", help="Where the database, originals, index, broker data and logs live "
    "(env DOCFLOW_DATA_DIR; default ./docflow-data).", show_default=False)]


def _settings(data_dir: Path | None) -> Settings:
    # Child processes and the Celery app read settings themselves: hand them the same dir.
    if data_dir is not None:
        os.environ["DOCFLOW_DATA_DIR"] = str(data_dir.expanduser().resolve())
    return Settings()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address the API listens on. Any but loopback "
                                      "needs credentials (DOCFLOW_AUTH=auto): create a token "
                                      "first with `docflow token create --scope admin`.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the API listens on.")] = 8000,
    data_dir: DataDir = None,
    concurrency: Annotated[int, typer.Option(help="Worker processes (0: one per CPU).")] = 0,
    demo: Annotated[bool, typer.Option(help="Generate a demo set of documents and process "
                                       "it once the service is up.")] = False,
) -> None:
    """Start the API, an embedded broker, workers and the indexer in one command.

    With DOCFLOW_BROKER_URL set, that broker is used and no embedded one is started.
    Ctrl-C stops everything.
    """
    from docflow.logs import configure_logging
    from docflow.serve import serve as run_serve

    settings = _settings(data_dir)
    configure_logging(settings.logs_path, "serve.log", settings.log_level,
                      settings.log_format)
    on_ready = (lambda url: _run_demo(settings, url)) if demo else None
    raise typer.Exit(run_serve(settings, host, port, concurrency or settings.concurrency,
                               on_ready=on_ready))


def _run_demo(settings: Settings, url: str) -> None:
    import httpx

    from docflow.demo import upload_demo, write_demo_corpus

    # A public --host needs credentials: the demo uses the bootstrap token when there is one.
    secret = settings.bootstrap_token
    headers = {"Authorization": f"Bearer {secret.get_secret_value()}"} if secret else {}
    with httpx.Client(base_url=url, timeout=30, headers=headers) as client:
        for _ in range(120):
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        demo_dir = settings.resolved_data_dir / "demo"
        files = write_demo_corpus(demo_dir)
        batch_id = upload_demo(client, files)
        console.print(f"[bold]Demo batch {batch_id}[/]: {len(files)} documents from {demo_dir}")
        while True:
            status = client.get(f"/api/batch-status/{batch_id}").json()
            finished = status["completed"] + status["failed"] + status.get("cancelled", 0)
            if finished >= status["total"]:
                break
            time.sleep(1)
        console.print(f"[green]Demo done[/]: {status['completed']} completed, "
                      f"{status['failed']} failed (broken on purpose).\n"
                      f"  Web app:   {url}/\n"
                      f"  Documents: {url}/api/documents?batch_id={batch_id}\n"
                      f"  Search:    {url}/api/search?q=invoice\n"
                      f"  API docs:  {url}/docs")


@app.command()
def worker(
    data_dir: DataDir = None,
    concurrency: Annotated[int, typer.Option(help="Worker processes (0: one per CPU).")] = 0,
    queues: Annotated[str, typer.Option("--queues", "-Q", help="Queues to consume, "
                                        "comma-separated: default (light work) and ocr "
                                        "(scans and images).")] = "default,ocr",
    hostname: Annotated[str | None, typer.Option(
        "--hostname", "-n", show_default=False,
        help="Worker node name, unique among running workers; %h is the host name. "
        "Default: docflow@%h, or docflow2@%h, docflow3@%h... when a worker on this host "
        "already has that name.")] = None,
    autoscale: Annotated[str | None, typer.Option(help="MAX,MIN processes, grown and shrunk "
                                                  "with the load.")] = None,
    loglevel: Annotated[str, typer.Option(help="Log level.")] = "INFO",
) -> None:
    """Start Celery workers only (they need a broker: DOCFLOW_BROKER_URL or `docflow serve`)."""
    settings = _settings(data_dir)
    url = settings.effective_broker_url()
    if not url:
        console.print("[red]No broker:[/] set DOCFLOW_BROKER_URL, or start `docflow serve` "
                      "with the same --data-dir.")
        raise typer.Exit(2)
    os.environ["DOCFLOW_BROKER_URL"] = url
    from docflow.store import open_store
    from docflow.worker.celery_app import app as celery_app

    store = open_store(settings, migrate=True)
    try:
        name = _worker_name(store, settings, hostname)
    finally:
        store.db.dispose()
    argv = ["worker", "--loglevel", loglevel, "--hostname", name, "--queues", queues,
            "--pool", "prefork", "--without-gossip", "--without-mingle"]
    argv += (["--autoscale", autoscale] if autoscale
             else ["--concurrency", str(concurrency or settings.concurrency)])
    celery_app.worker_main(argv)


def _worker_name(store: Store, settings: Settings, requested: str | None) -> str:
    """The node name to start under: the one asked for if no live worker holds it, else exit 2;
    by default the first free one of docflow@HOST, docflow2@HOST, ..."""
    from celery.utils.nodenames import host_format

    from docflow.store.workers import live_worker_names
    from docflow.worker.runtime import HOSTNAME

    with store.db.read() as session:
        taken = live_worker_names(session, settings.worker_stale_seconds, this_host=HOSTNAME)
    if requested is not None:
        name = host_format(requested)
        if name in taken:
            console.print(f"[red]A worker named {name} is already running[/] (see /api/workers)."
                          " Give this one another name with -n NAME@%h.")
            raise typer.Exit(2)
        return name
    return next(name for n in range(1, len(taken) + 2)
                if (name := host_format(f"docflow{n if n > 1 else ''}@%h")) not in taken)


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Create or upgrade the database schema, then exit (every command also does this at start;
    run it once before starting many hosts on a new database)."""
    from docflow.store import open_store

    settings = _settings(data_dir)
    open_store(settings, migrate=True).db.dispose()
    console.print(f"database is up to date: {settings.sqlalchemy_url.split('@')[-1]}")


@app.command()
def recount(batch_id: Annotated[str | None, typer.Argument(
                help="One batch; leave out for every batch and the overview's totals.")] = None,
            data_dir: DataDir = None) -> None:
    """Count the documents again and correct the counters behind batch progress and the
    overview, should they ever disagree (the database keeps them as documents change; rows
    changed with its triggers off would leave them behind). Safe while everything runs."""
    from docflow.store import open_store
    from docflow.store.counts import recount as recount_documents

    store = open_store(_settings(data_dir), migrate=True)
    try:
        result = recount_documents(store.db, batch_id)
    finally:
        store.db.dispose()
    if not result.drifted:
        console.print(f"counters agree with the documents ({result.keys} counted)")
        return
    for (batch, tenant, status, codes), delta in result.corrected.items():
        where = f"batch {batch}" if batch else f"tenant {tenant} overall"
        console.print(f"corrected {where} {status}{' ' + codes if codes else ''}: {delta:+d}")


@app.command()
def train(
    data_dir: DataDir = None,
    tenant: Annotated[str | None, typer.Option(help="Whose classifier: trained on that "
                                               "tenant's labels alone (default: the default "
                                               "tenant).")] = None,
) -> None:
    """Train a tenant's document-type classifier on every type its people set or confirmed."""
    from docflow.pipeline.classify.trained import NotEnoughLabels
    from docflow.store import open_store
    from docflow.store.scope import tenant_of
    from docflow.store.tenants import UnknownTenant, require_tenant
    from docflow.worker.training import train_classifier

    settings = _settings(data_dir)
    store = open_store(settings, migrate=True)
    try:
        with store.db.read() as session:
            require_tenant(session, tenant)
        result = train_classifier(store, settings, tenant_of(tenant))
    except (NotEnoughLabels, UnknownTenant) as exc:
        console.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(1) from None
    counts = ", ".join(f"{k} {v}" for k, v in result.label_counts.items())
    console.print(f"classifier {result.version}: trained on {result.trained_on} documents "
                  f"({counts})")


@app.command()
def housekeeper(data_dir: DataDir = None) -> None:
    """Run the search indexer and the reconciler (`docflow serve` starts one for you)."""
    from docflow.logs import configure_logging
    from docflow.worker.housekeeper import run_housekeeper

    settings = _settings(data_dir)
    configure_logging(settings.logs_path, "housekeeper.log", settings.log_level,
                      settings.log_format)
    run_housekeeper(settings)


@app.command()
def ingest(
    directory: Annotated[Path, typer.Argument(help="Folder whose files (recursively) become "
                                              "one batch.", exists=True, file_okay=False)],
    data_dir: DataDir = None,
    name: Annotated[str | None, typer.Option(help="Batch name (default: the folder).")] = None,
    wait: Annotated[bool, typer.Option(help="Show a progress bar until the batch is done.")]
    = False,
) -> None:
    """Register every file under DIRECTORY as one batch, without HTTP, and print its id."""
    from docflow.store import BlobTooLarge, open_store
    from docflow.store.documents import NewDocument
    from docflow.worker.dispatch import Dispatcher, submit_documents

    settings = _settings(data_dir)
    store = open_store(settings, migrate=True)
    paths = sorted(p for p in directory.rglob("*") if p.is_file())
    if not paths:
        console.print(f"[red]No files under {directory}.[/]")
        raise typer.Exit(1)
    items: list[NewDocument] = []
    skipped = 0
    with _bar() as bar:
        task = bar.add_task("storing originals", total=len(paths), extra="")
        for path in paths:
            try:
                blob = store.blobs.put_file(path, settings.max_file_bytes)
                # Its path under DIRECTORY: the document's source_path, its last part the name.
                items.append(NewDocument(filename=path.relative_to(directory).as_posix(),
                                         blob=blob))
            except (BlobTooLarge, OSError) as exc:
                skipped += 1
                console.print(f"[yellow]skipped[/] {path}: {exc}")
            bar.advance(task)
    dispatcher = Dispatcher(settings)
    submitted = submit_documents(store, dispatcher, items, source="ingest",
                                 batch_name=name or directory.resolve().name)
    dispatcher.close()
    console.print(f"batch [bold]{submitted.batch_id}[/]: {len(items)} documents"
                  + (f", {skipped} skipped" if skipped else ""))
    if settings.effective_broker_url() is None:
        console.print("[yellow]No broker is running: the documents are queued and will be "
                      "processed when `docflow serve` starts.[/]")
    if wait and submitted.batch_id:
        _wait_for_batch(settings, store, submitted.batch_id)


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[extra]}"), TimeRemainingColumn(),
                    console=console)


def _wait_for_batch(settings: Settings, store: object, batch_id: str) -> None:
    from docflow.store import Store
    from docflow.store.batches import batch_progress

    assert isinstance(store, Store)
    with _bar() as bar:
        task = bar.add_task("processing", total=None, extra="")
        while True:
            with store.db.read() as session:
                p = batch_progress(session, batch_id)
            assert p is not None
            bar.update(task, total=p.total, completed=p.completed + p.failed,
                       extra=f"{p.processing} running, {p.failed} failed")
            if p.done:
                break
            time.sleep(0.5)
    _print_batch(store, batch_id)


STATUS_ROWS = 50  # documents listed per table unless --all


@app.command()
def status(batch_id: Annotated[str, typer.Argument(help="The batch id ingest or "
                                                   "batch-upload printed.")],
           data_dir: DataDir = None,
           all_documents: Annotated[bool, typer.Option(
               "--all", help=f"List every failed and warned document, not the first "
               f"{STATUS_ROWS} of each (read page by page, by key).")] = False) -> None:
    """Show a batch's progress, the reason each failed document failed, and the warnings of
    documents that completed with some (no_text: readable, but no text was found)."""
    from docflow.store import open_store

    settings = _settings(data_dir)
    _print_batch(open_store(settings, migrate=True), batch_id, all_documents)


def _print_batch(store: object, batch_id: str, all_documents: bool = False) -> None:
    from docflow.store import Store
    from docflow.store.batches import batch_progress
    from docflow.store.listing import DocumentFilter, walk_documents

    assert isinstance(store, Store)
    with store.db.read() as session:
        p = batch_progress(session, batch_id)
    if p is None:
        console.print(f"[red]No batch {batch_id}.[/]")
        raise typer.Exit(1)
    warned_note = f" ({p.with_warnings} with warnings)" if p.with_warnings else ""
    console.print(f"batch {batch_id}: {p.total} documents, {p.progress_percent}% done — "
                  f"{p.completed} completed{warned_note}, {p.failed} failed, "
                  f"{p.processing} processing, {p.queued} queued")
    if p.warnings:
        console.print("warnings: " + ", ".join(f"{code} {n}" for code, n in p.warnings.items()))

    def pages(flt: DocumentFilter) -> Iterator[list[Document]]:
        walk = walk_documents(store.db, flt, page_size=STATUS_ROWS)
        return walk if all_documents else itertools.islice(walk, 1)

    shown = 0
    table = Table("document", "file", "reason", "message", title="failed")
    for page in pages(DocumentFilter(batch_id=batch_id, status="failed")):
        for doc in page:
            table.add_row(doc.id, doc.filename, doc.error_code or "", doc.error_message or "")
        shown += len(page)
    if shown:
        console.print(table)
    if shown < p.failed and not all_documents:
        console.print(f"… {p.failed - shown} more failed: docflow status {batch_id} --all")
    shown = 0
    table = Table("document", "file", "warning", "message",
                  title="completed with warnings (nothing to fix; worth a look)")
    for page in pages(DocumentFilter(batch_id=batch_id, warning="any")):
        for doc in page:
            for warning in doc.warnings or []:
                table.add_row(doc.id, doc.filename, warning["code"], warning["message"])
        shown += len(page)
    if shown:
        console.print(table)
    if shown < p.with_warnings and not all_documents:
        console.print(f"… {p.with_warnings - shown} more with warnings: docflow status "
                      f"{batch_id} --all")


@app.command()
def search(query: Annotated[str, typer.Argument(help="Words (any may match; all of them "
                                                 "rank first), \"phrases\", -word, +word, "
                                                 "AND/OR, prefix*.")],
           data_dir: DataDir = None,
           doc_type: Annotated[str | None, typer.Option("--type", help="Only this document "
                                                        "type.")] = None,
           batch_id: Annotated[str | None, typer.Option("--batch", help="Only this batch.")]
           = None,
           path_prefix: Annotated[str | None, typer.Option(
               "--path", help="Only documents whose path in the uploaded folder starts with "
               "this ('2019/': that folder and below).")] = None,
           date_from: Annotated[datetime | None, typer.Option(
               "--from", formats=["%Y-%m-%d"], help="Uploaded on or after this day (UTC).",
               show_default=False)] = None,
           date_to: Annotated[datetime | None, typer.Option(
               "--to", formats=["%Y-%m-%d"], help="Uploaded on or before this day (UTC).",
               show_default=False)] = None,
           sort: Annotated[SearchSort, typer.Option(
               help="relevance, date (newest first) or date_asc (oldest first).")]
           = SearchSort.RELEVANCE,
           limit: Annotated[int, typer.Option(help="Hits to show.")] = 10,
           mode: Annotated[SearchMode | None, typer.Option(
               help="keyword: the words of QUERY, ranked by BM25. semantic: documents closest "
               "in meaning to QUERY (needs DOCFLOW_SEMANTIC_SEARCH, the default, or "
               "DOCFLOW_ZERO_SHOT when they were processed). hybrid: both rankings fused (the "
               "default where documents are embedded).", show_default=False)] = None) -> None:
    """Search processed documents from the terminal."""
    from docflow.pipeline.classify.embeddings import EmbeddingModelMissing, SentenceEncoder
    from docflow.search import SearchError, SearchFilters, modes, open_index
    from docflow.search.vectors import open_vector_index
    from docflow.store import open_store
    from docflow.worker.training import embedding_model_dir

    settings = _settings(data_dir)
    if not settings.database_url and not (settings.resolved_data_dir / "docflow.db").exists():
        # Never search an empty data dir made on the spot: say where docflow looked.
        console.print(f"[red]No docflow data in {settings.resolved_data_dir}[/]: run this "
                      "where `docflow serve` keeps its data, or pass --data-dir (or set "
                      "DOCFLOW_DATA_DIR / DOCFLOW_DATABASE_URL).", highlight=False)
        raise typer.Exit(2)
    index = open_index(settings.search, settings.index_dir, writer=False,
                       database_url=settings.sqlalchemy_url, pool=settings.search_pool)
    store = open_store(settings)
    vectors = open_vector_index(settings, writer=False)
    try:
        filters = SearchFilters.uploaded_between(
            date_from.date() if date_from else None, date_to.date() if date_to else None,
            doc_type=doc_type, batch_id=batch_id, path_prefix=path_prefix)
        found = modes.search(index, store.db, query, mode, filters=filters, sort=sort,
                             facets=True, limit=limit,
                             zero_shot=settings.makes_embeddings,
                             encoder=lambda: SentenceEncoder(embedding_model_dir(settings)),
                             vectors=vectors)
    except (modes.SemanticSearchOff, modes.SortNeedsKeyword, EmbeddingModelMissing,
            SearchError) as exc:
        console.print(f"[red]{exc.message}[/]", highlight=False)
        raise typer.Exit(2) from None
    finally:
        index.close()
        if vectors is not None:
            vectors.close()
        store.db.dispose()
    table = Table("score", "document", "file", "type", "snippet",
                  title=f"{found.total}{'+' if found.total_is_lower_bound else ''} documents "
                        f"match {query!r} ({found.mode.value})")
    for hit in found.hits:
        table.add_row(f"{hit.score:.2f}", hit.id, hit.filename, hit.doc_type or "",
                      _snippet_text(hit.snippet))
    console.print(table)
    if found.doc_types:
        console.print("by type: " + ", ".join(f"{name} {n}" for name, n in
                                              sorted(found.doc_types.items(),
                                                     key=lambda item: (-item[1], item[0]))))


def _snippet_text(snippet: str) -> Text:
    """Matched terms in bold; the snippet is escaped HTML whose only markup is <b>."""
    text = Text()
    for i, part in enumerate(re.split(r"</?b>", snippet)):
        text.append(html.unescape(part), style="bold" if i % 2 else "")
    return text


@app.command()
def demo(directory: Annotated[Path, typer.Argument(help="Where to write the files.")],
         count: Annotated[int, typer.Option(help="How many files.")] = 60) -> None:
    """Write the generated demo documents (a few broken on purpose) to DIRECTORY."""
    from docflow.demo import write_demo_corpus

    files = write_demo_corpus(directory, count=count)
    console.print(f"wrote {len(files)} files to {directory}")


ServerUrl = Annotated[str, typer.Option("--url", envvar="DOCFLOW_URL",
                                        help="The docflow server.")]
Token = Annotated[str | None, typer.Option("--token", envvar="DOCFLOW_TOKEN", help="Sent as "
                                           "`Authorization: Bearer TOKEN`.", show_default=False)]


@app.command()
def upload(
    directory: Annotated[Path, typer.Argument(help="Folder whose files (recursively) are "
                                              "uploaded.", exists=True, file_okay=False)],
    url: ServerUrl = "http://127.0.0.1:8000",
    token: Token = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Files per batch.")] = 1000,
    concurrency: Annotated[int, typer.Option(min=1, max=MAX_CONCURRENCY,
                                             help="Requests in flight.")] = 8,
    monitor: Annotated[bool, typer.Option(help="Then follow processing until every "
                                          "document is done.")] = False,
    checkpoint: Annotated[Path | None, typer.Option(
        help="Where to record what was uploaded, to resume after a crash or Ctrl-C "
        "(default: .docflow-upload-FOLDER-HASH.sqlite here).", show_default=False)] = None,
    batch_ids_out: Annotated[Path, typer.Option(help="Where to write the batch ids (JSON), "
                                                "for `docflow monitor`.")]
    = Path("batch_ids.json"),
    include: Annotated[list[str] | None, typer.Option(
        help="Only files matching this glob (path or name, e.g. '*.pdf'); repeatable.",
        show_default=False)] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        help="Skip files and folders matching this glob (e.g. '.git', 'tmp/*'); repeatable.",
        show_default=False)] = None,
    name: Annotated[str | None, typer.Option(help="Batch name prefix (default: the "
                                             "folder's name).", show_default=False)] = None,
    files_per_request: Annotated[int, typer.Option(min=1, help="Files per request, at most.")]
    = 50,
    timeout: Annotated[float, typer.Option(help="Seconds one request may stall before it is "
                                           "retried.")] = 120.0,
) -> None:
    """Upload a folder of any size to a docflow server, resumably, each file once.

    Rerun the same command after a crash or Ctrl-C: only what is missing is sent.
    Connection errors, timeouts, 429 and 5xx are retried with backoff.
    """
    from docflow.client import UploadOptions, run_upload

    options = UploadOptions(
        directory=directory, url=url, token=token, batch_size=batch_size,
        concurrency=concurrency, checkpoint=checkpoint, batch_ids_out=batch_ids_out,
        include=tuple(include or ()), exclude=tuple(exclude or ()), batch_name=name,
        request_files=files_per_request, timeout=timeout)
    raise typer.Exit(run_upload(options, console, monitor=monitor))


@app.command("documents")
def documents_command(
    url: ServerUrl = "http://127.0.0.1:8000",
    token: Token = None,
    batch_id: Annotated[str | None, typer.Option("--batch", help="Only this batch.",
                                                 show_default=False)] = None,
    status_: Annotated[str | None, typer.Option("--status", help="queued, processing, "
                                                "completed, failed or cancelled.",
                                                show_default=False)] = None,
    doc_type: Annotated[str | None, typer.Option("--type", help="Only this document type.",
                                                 show_default=False)] = None,
    path_prefix: Annotated[str | None, typer.Option("--folder", help="Only paths starting "
                                                    "with this ('2019/': that folder and "
                                                    "below).", show_default=False)] = None,
    needs_review: Annotated[bool | None, typer.Option("--needs-review/--reviewed",
                                                      show_default=False)] = None,
    warning: Annotated[str | None, typer.Option(help="Only with this warning code, or "
                                                "'any'.", show_default=False)] = None,
    order: Annotated[str, typer.Option(help="oldest, newest or path.")] = "oldest",
    limit: Annotated[int, typer.Option(min=0, help="At most this many (0: all of them, "
                                       "page after page).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """List a running server's documents, walking its pages by cursor (as fast at the
    500,000th document as at the first)."""
    from docflow.client import run_list_documents

    raise typer.Exit(run_list_documents(
        url, token, console, order=order, limit=limit or None, as_json=as_json,
        batch_id=batch_id, status=status_, doc_type=doc_type, path_prefix=path_prefix,
        needs_review=needs_review, warning=warning))


@app.command("batches")
def batches_command(
    url: ServerUrl = "http://127.0.0.1:8000",
    token: Token = None,
    limit: Annotated[int, typer.Option(min=0, help="At most this many (0: all).")] = 20,
) -> None:
    """List a running server's batches, newest first, with their progress."""
    from docflow.client import run_list_batches

    raise typer.Exit(run_list_batches(url, token, console, limit=limit or None))


@app.command("monitor")
def monitor_command(
    batch_ids_file: Annotated[Path, typer.Argument(help="The batch ids file `docflow upload` "
                                                   "wrote.", exists=True, dir_okay=False)],
    url: Annotated[str | None, typer.Option("--url", envvar="DOCFLOW_URL", help="The docflow "
                                            "server (default: the one in the file).",
                                            show_default=False)] = None,
    token: Token = None,
    interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 2.0,
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds.",
                                                  show_default=False)] = None,
) -> None:
    """Follow uploaded batches until every document is completed or failed."""
    from docflow.client import run_monitor

    raise typer.Exit(run_monitor(batch_ids_file, console, url=url, token=token,
                                 interval=interval, timeout=timeout))
import docflow.reindex  # noqa: E402,F401  registers `docflow reindex`
