"""What a new worker pool process pays for its first documents, started cold or warm.

    .venv/bin/python bench/pool_child.py [--docs N]

A worker's main process imports the task module, then forks pool processes (Celery prefork);
each is replaced after `worker_max_tasks_per_child` tasks. This forks a child the same way from
a process that did (warm) or did not (cold) run `docflow.worker.tasks.warm_up` first, and has it
process small text files and small PDFs with the real task function on a fresh SQLite store. It
prints the child's CPU and wall milliseconds for its first document and the median of the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _child(doc_ids: list[str], write_end: int) -> None:
    from docflow.worker.tasks import process_document

    timings = []
    for doc_id in doc_ids:
        cpu, wall = time.process_time(), time.perf_counter()
        process_document(doc_id)
        timings.append(((time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000))
    os.write(write_end, json.dumps(timings).encode())


def _fork_and_measure(doc_ids: list[str]) -> list[tuple[float, float]]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_end)
            _child(doc_ids, write_end)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        timings = json.loads(pipe.read() or b"[]")
    os.waitpid(pid, 0)
    return [tuple(t) for t in timings]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10, help="documents per child (default 10)")
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="docflow-pool-child-"))
    os.environ["DOCFLOW_DATA_DIR"] = str(data_dir)
    from docflow.config import get_settings
    from docflow.demo import make_pdf
    from docflow.store import documents as docs
    from docflow.store import open_store
    from docflow.worker import tasks  # what the worker's main process imports
    from docflow.worker.runtime import runtime

    store = open_store(get_settings(), migrate=True)

    def register(tag: str) -> list[str]:
        items = []
        for i in range(args.docs):
            if i % 2:
                data, name = make_pdf([f"Report {tag} {i}", "Revenue grew this quarter."]), "r.pdf"
            else:
                data, name = f"Dear Sir, letter {tag} {i}; thank you. Ann".encode(), "l.txt"
            blob = store.blobs.put_stream(__import__("io").BytesIO(data), 10**8)
            items.append(docs.NewDocument(filename=name, blob=blob))
        with store.db.write() as session:
            return [d.id for d in docs.register_documents(session, items)]

    results = {}
    cold_ids, warm_ids = register("cold"), register("warm")
    results["cold"] = _fork_and_measure(cold_ids)
    started = time.process_time()
    tasks.warm_up(runtime())
    warm_up_ms = (time.process_time() - started) * 1000
    results["warm"] = _fork_and_measure(warm_ids)
    print(f"warm-up in the main process: {warm_up_ms:.0f} CPU-ms, once per worker")
    for kind, timings in results.items():
        first, rest = timings[0], timings[1:]
        print(f"{kind}: first document {first[0]:.0f} CPU-ms / {first[1]:.0f} ms wall; "
              f"the next {len(rest)}: median {statistics.median(t[0] for t in rest):.1f} CPU-ms;"
              f" all {len(timings)}: {sum(t[0] for t in timings):.0f} CPU-ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
