"""`docflow reindex`: rebuild the keyword and vector indexes from the database.

Runs in the foreground with a progress bar; Ctrl-C (or a crash) keeps a checkpoint and the next
run resumes there. Search answers from the old indexes until the new ones are complete and
swapped in (docflow.search.reindex).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from docflow.cli import DataDir, _settings, app, console


@app.command()
def reindex(data_dir: DataDir = None,
            chunk: Annotated[int, typer.Option(help="Documents read and indexed at a time "
                                               "(memory grows with it).")] = 500) -> None:
    """Rebuild the search indexes (keyword and vectors) from the stored documents: after an
    upgrade, a change of the embedding model or a damaged index. Interrupt it at will; run it
    again to resume."""
    from docflow.search import IndexLocked, open_index
    from docflow.search.reindex import Checkpoint, adopt_rebuilt, rebuild
    from docflow.store import open_store

    settings = _settings(data_dir)
    settings.ensure_dirs()
    store = open_store(settings, migrate=True)
    resumed = Checkpoint.read(settings)
    if resumed is not None and not resumed.built:
        console.print(f"Resuming after {resumed.done} documents.")
    columns = (TextColumn("reindexing"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    try:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("reindex", total=None)
            checkpoint = rebuild(settings, store, chunk=chunk, progress=lambda done, total:
                                 bar.update(task, completed=done, total=total))
    except KeyboardInterrupt:
        console.print("Interrupted; run `docflow reindex` again to resume. Search answers "
                      "from the old indexes meanwhile.")
        raise typer.Exit(130) from None
    except IndexLocked:
        done = Checkpoint.read(settings)
        console.print(f"A rebuild is already running (the housekeeper's, for an index from an "
                      f"older docflow); {done.done if done else 0} documents so far. It is "
                      "swapped in when complete.")
        raise typer.Exit(1) from None
    try:
        if settings.search != "tantivy":
            raise IndexLocked("no lock tells whether a housekeeper runs")
        live = open_index(settings.search, settings.index_dir, writer=True)
    except IndexLocked:
        console.print(f"{checkpoint.done} documents indexed; the running housekeeper swaps the "
                      "new indexes in within seconds.")
    else:
        adopt_rebuilt(settings, store, live, None)[0].close()  # type: ignore[union-attr]
        console.print(f"{checkpoint.done} documents indexed; the new indexes are live.")
    finally:
        store.db.dispose()
