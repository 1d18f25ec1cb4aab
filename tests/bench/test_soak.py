"""bench/soak.py's parts: the files it writes, and the goals and projection it prints."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pypdfium2 as pdfium

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from soak import Run, Slice, goals, projection, write_slices  # noqa: E402


def test_the_bench_writes_unique_small_files_one_folder_per_slice(tmp_path: Path) -> None:
    folders = write_slices(tmp_path, count=25, slice_size=10)
    files = [f for folder in folders for f in sorted(folder.iterdir())]
    assert [len(list(f.iterdir())) for f in folders] == [10, 10, 5]
    assert len({hashlib.sha256(f.read_bytes()).hexdigest() for f in files}) == 25
    pdfs = [f for f in files if f.suffix == ".pdf"]
    assert len(pdfs) == 6 and all(f.stat().st_size < 2000 for f in files)
    text = pdfium.PdfDocument(pdfs[0].read_bytes())[0].get_textpage().get_text_bounded()
    assert "reference SOAK-" in text  # the PDFs' text layer is the note's text


def _run(cpu_per_doc: list[float], latency_ms: float = 5.0) -> Run:
    return Run("test", slices=[Slice(docs=1000, wall_s=10.0, cpu={"pool": ms})
                               for ms in cpu_per_doc],
               latency_ms={"search": [latency_ms] * 20})


def test_a_flat_cheap_run_passes_every_goal_and_projects_flat() -> None:
    run = _run([5.0, 5.2, 4.9, 5.1])
    assert all(ok for ok, _ in goals(run))
    cpu_at, hours, cpu_h = projection(run.slices, target=500_000)
    assert 4.5 < cpu_at < 5.5
    assert abs(hours - 500_000 * 0.01 / 3600) < 0.1


def test_a_run_whose_cost_grows_fails_flatness_and_projects_the_growth() -> None:
    run = _run([4.0, 5.0, 6.0, 7.0], latency_ms=30.0)
    failed = [line for ok, line in goals(run) if not ok]
    assert any(line.startswith("flat") for line in failed)
    assert any(line.startswith("search") for line in failed)
    cpu_at, _, _ = projection(run.slices, target=500_000)
    assert cpu_at > 400  # one more CPU-ms per 1,000 documents, carried on to 500,000


def test_costs_that_fell_over_a_few_slices_project_flat_not_to_zero() -> None:
    run = _run([9.0, 6.0])
    cpu_at, hours, cpu_h = projection(run.slices, target=500_000)
    assert cpu_at == 7.5 and cpu_h > 0 and hours > 0
