"""Formats: every file of the shared mixed-format corpus through docflow and the bare libraries.

    .venv/bin/python bench/formats.py [--dataset PATH] [--repeat 3] [--show-files] [--skip-ocr]

Each file of ../shared/datasets/mixed_formats (listed in its SOURCES.tsv) is read, in this one
process, by
  1. docflow's extraction: `detect` + `extract` (what docflow adds over the library: content
     sniffing, charset handling, every story of a DOCX, safe unpacking, children);
  2. the whole pipeline: `process_document` (extraction + classification + fields);
  3. the bare library a user would call instead: pypdfium2 for PDFs (open, text of every page),
     kreuzberg for everything else (MIME type from the extension, OCR off, no cache).
CPU time (time.process_time, all threads) is the minimum of --repeat runs per file; docs per
CPU-second are files / summed CPU. Files that need OCR (images, PDFs with a page of fewer than
20 text-layer characters) are read once and kept out of the born-digital rate, whose goal is
docflow's extraction >= bare / 1.3. A file is "readable" when the bare library gets text from
it or docflow completes it; the goal is that docflow completes every readable file except the
password-protected ones, which must fail as `encrypted`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = REPO.parent / "shared" / "datasets" / "mixed_formats"
IMAGES = {"png", "jpeg", "gif", "tiff", "bmp", "webp"}
OCR_PAGE_CHARS = 20
MIME_BY_EXTENSION = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "epub": "application/epub+zip",
    "rtf": "application/rtf",
    "msg": "application/vnd.ms-outlook",
    "eml": "message/rfc822",
    "html": "text/html",
    "htm": "text/html",
    "txt": "text/plain",
    "md": "text/markdown",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "json": "application/json",
    "xml": "application/xml",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
}

console = Console(width=None if sys.stdout.isatty() else 150)


@dataclass
class Run:
    outcome: str = "ok"  # "ok" or the error code (docflow) / "error" (bare library)
    cpu: float = 0.0
    chars: int = 0
    detail: str = ""


@dataclass
class FileResult:
    name: str
    extension: str
    group: str  # docflow's detected format, or the extension when detection failed
    needs_ocr: bool
    extract: Run
    pipeline: Run
    bare: Run
    children: int = 0

    @property
    def readable(self) -> bool:
        return self.bare.chars > 0 or self.extract.outcome == "ok"

    @property
    def bare_encrypted(self) -> bool:
        return any(word in self.bare.detail.lower() for word in ("password", "encrypt"))


@dataclass
class Group:
    results: list[FileResult] = field(default_factory=list)

    def rate(self, pick: Callable[[FileResult], Run]) -> float:
        cpu = sum(pick(result).cpu for result in self.results)
        return len(self.results) / cpu if cpu else float("inf")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per born-digital file")
    parser.add_argument("--show-files", action="store_true", help="one line per file as well")
    parser.add_argument("--skip-ocr", action="store_true", help="leave out files that need OCR")
    args = parser.parse_args()
    if not args.dataset.is_dir():
        console.print(f"[yellow]No corpus at {args.dataset}; nothing to measure (skipped).")
        return 0
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # as a worker runs OCR

    from docflow.pipeline import DocumentError, Limits, detect, extract, process_document

    limits = Limits()
    paths = corpus(args.dataset)
    console.print(f"{len(paths)} files from {args.dataset}; warming up ...")
    for path in paths[:: max(1, len(paths) // 12)]:  # imports, caches, kreuzberg start-up
        try_run(lambda data=path.read_bytes(), name=path.name: process_document(data, name))
        bare_text(path)

    results = []
    for number, path in enumerate(paths, start=1):
        data = path.read_bytes()
        extension = path.suffix.lower().lstrip(".")
        try:
            group = detect(data, path.name, limits).format
        except DocumentError:
            group = f"(.{extension}, refused by detect)"
        bare, bare_pages = timed(lambda path=path: bare_text(path), 1)
        needs_ocr = group in IMAGES or any(len(p.strip()) < OCR_PAGE_CHARS for p in bare_pages)
        if needs_ocr and args.skip_ocr:
            continue
        repeat = 1 if needs_ocr else args.repeat
        if repeat > 1:
            bare = timed(lambda path=path: bare_text(path), repeat)[0]

        def read(data: bytes = data, name: str = path.name) -> tuple[str, int, int]:
            extracted = extract(data, detect(data, name, limits), limits)
            return extracted.text, len(extracted.children), 0

        def whole(data: bytes = data, name: str = path.name) -> tuple[str, int, int]:
            result = process_document(data, name, limits)
            return result.extracted.text, len(result.children), 0

        extracted, children = timed_docflow(read, repeat, DocumentError)
        pipeline, _ = timed_docflow(whole, 1, DocumentError)
        results.append(
            FileResult(path.name, extension, group, needs_ocr, extracted, pipeline, bare, children)
        )
        if number % 25 == 0:
            console.print(f"  {number}/{len(paths)}")

    report(results, args.show_files)
    return 0


def corpus(dataset: Path) -> list[Path]:
    sources = dataset / "SOURCES.tsv"
    if sources.is_file():
        with sources.open(newline="", encoding="utf-8") as handle:
            names = [row["local_name"] for row in csv.DictReader(handle, delimiter="\t")]
        return [dataset / name for name in names if (dataset / name).is_file()]
    return sorted(p for p in dataset.iterdir() if p.is_file())


def try_run(call: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):  # warm-up only; the timed runs record what happens
        call()


def timed(call: Callable[[], tuple[str, list[str]]], repeat: int) -> tuple[Run, list[str]]:
    """The bare library's run: the fastest of `repeat`, its text length and page texts."""
    best, pages, run = float("inf"), [], Run()
    for _ in range(repeat):
        started = time.process_time()
        try:
            text, pages = call()
            run = Run("ok", chars=len(text.strip()))
        except Exception as exc:  # the bare libraries raise their own errors
            run = Run("error", detail=f"{type(exc).__name__}: {exc}")
        best = min(best, time.process_time() - started)
    run.cpu = best
    return run, pages


def timed_docflow(
    call: Callable[[], tuple[str, int, int]], repeat: int, document_error: type[Exception]
) -> tuple[Run, int]:
    best, run, children = float("inf"), Run(), 0
    for _ in range(repeat):
        started = time.process_time()
        try:
            text, children, _ = call()
            run = Run("ok", chars=len(text.strip()))
        except document_error as exc:
            run = Run(exc.code, detail=exc.message)  # type: ignore[attr-defined]
        best = min(best, time.process_time() - started)
    run.cpu = best
    return run, children


def bare_text(path: Path) -> tuple[str, list[str]]:
    """What a user calling the library directly gets: (text, page texts for PDFs)."""
    if path.suffix.lower() == ".pdf":
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(path.read_bytes())
        try:
            pages = []
            for index in range(len(pdf)):
                page = pdf[index]
                textpage = page.get_textpage()
                pages.append(textpage.get_text_bounded())
                textpage.close()
                page.close()
            return "\n".join(pages), pages
        finally:
            pdf.close()
    import kreuzberg

    mime = MIME_BY_EXTENSION.get(path.suffix.lower().lstrip("."), "application/octet-stream")
    result = kreuzberg.extract_bytes_sync(path.read_bytes(), mime, _kreuzberg_config())
    return result.content, []


_CONFIG: list[object] = []


def _kreuzberg_config() -> object:
    import kreuzberg

    if not _CONFIG:
        _CONFIG.append(
            kreuzberg.ExtractionConfig(
                use_cache=False,
                disable_ocr=True,
                concurrency=kreuzberg.ConcurrencyConfig(max_threads=1),
            )
        )
    return _CONFIG[0]


def report(results: list[FileResult], show_files: bool) -> None:
    groups: dict[str, Group] = {}
    for result in results:
        groups.setdefault(result.group, Group()).results.append(result)
    table = Table(
        title="docflow vs bare pypdfium2/kreuzberg on mixed_formats; per format, rates over "
        "the files that need no OCR"
    )
    for column in ("format", "extensions", "files", "need OCR", "done", "failed (reason)"):
        table.add_column(column)
    for column in ("docflow extract docs/CPU-s", "pipeline docs/CPU-s", "bare docs/CPU-s",
                   "extract / bare", "chars docflow / bare"):
        table.add_column(column, justify="right")
    for name in sorted(groups, key=lambda g: (-len(groups[g].results), g)):
        table.add_row(*row(name, groups[name]))
    born_digital = Group([r for r in results if not r.needs_ocr])
    ocr = Group([r for r in results if r.needs_ocr])
    table.add_section()
    table.add_row(*row("born-digital", born_digital), style="bold")
    table.add_row(*row("needs OCR", ocr))
    table.add_row(*row("all", Group(results)), style="bold")
    console.print(table)
    goals(results, born_digital)
    if show_files:
        files = Table(title="per file")
        for column in ("file", "format", "docflow", "bare", "extract CPU s", "bare CPU s",
                       "chars", "bare chars", "children"):
            files.add_column(column)
        for r in results:
            files.add_row(r.name, r.group, r.extract.outcome, r.bare.outcome,
                          f"{r.extract.cpu:.4f}", f"{r.bare.cpu:.4f}", str(r.extract.chars),
                          str(r.bare.chars), str(r.children))
        console.print(files)


def row(name: str, group: Group) -> list[str]:
    """Counts over every file; per format, rates over the born-digital ones (OCR swamps them)."""
    results = group.results
    whole = name in ("needs OCR", "all")
    timed = group if whole else Group([r for r in results if not r.needs_ocr])
    failures = Counter(r.extract.outcome for r in results if r.extract.outcome != "ok")
    extract_rate, bare_rate = timed.rate(lambda r: r.extract), timed.rate(lambda r: r.bare)
    bare_chars = sum(r.bare.chars for r in timed.results)
    rated = bool(timed.results)
    return [
        name,
        " ".join(sorted({"." + r.extension for r in results})),
        str(len(results)),
        str(sum(r.needs_ocr for r in results)),
        str(sum(r.extract.outcome == "ok" for r in results)),
        ", ".join(f"{code} {count}" for code, count in sorted(failures.items())) or "-",
        f"{extract_rate:,.1f}" if rated else "-",
        f"{timed.rate(lambda r: r.pipeline):,.1f}" if rated else "-",
        f"{bare_rate:,.1f}" if rated else "-",
        f"{extract_rate / bare_rate:.2f}" if rated and bare_rate else "-",
        f"{sum(r.extract.chars for r in timed.results) / bare_chars:.2f}" if bare_chars else "-",
    ]


def goals(results: list[FileResult], born_digital: Group) -> None:
    encrypted = [r for r in results if r.extract.outcome == "encrypted"]
    missed_encrypted = [r for r in results if r.bare_encrypted and r.extract.outcome != "encrypted"]
    unexpected = [
        r for r in results
        if r.readable and r.extract.outcome not in ("ok", "encrypted") and not r.bare_encrypted
    ]
    unreadable = [r for r in results if not r.readable and r.extract.outcome != "encrypted"]
    extract_rate, bare_rate = born_digital.rate(lambda r: r.extract), born_digital.rate(
        lambda r: r.bare
    )
    check = {True: "[green]met[/]", False: "[red]NOT met[/]"}
    console.print(
        f"Goal: every readable file completes: {check[not unexpected]} "
        f"({sum(r.readable for r in results)} readable, {len(unexpected)} not completed)"
    )
    for r in unexpected:
        console.print(f"  {r.name}: {r.extract.outcome}: {r.extract.detail}")
    console.print(
        f"Goal: password-protected files fail as encrypted: {check[not missed_encrypted]} "
        f"({len(encrypted)} encrypted: {', '.join(r.name for r in encrypted) or '-'})"
    )
    for r in missed_encrypted:
        console.print(f"  {r.name}: {r.extract.outcome} (the bare library says: {r.bare.detail})")
    console.print(
        f"Goal: born-digital extraction >= bare / 1.3: "
        f"{check[extract_rate >= bare_rate / 1.3]} ({extract_rate:,.1f} vs {bare_rate:,.1f} "
        f"docs per CPU-second, ratio {extract_rate / bare_rate:.2f}; the whole pipeline "
        f"{born_digital.rate(lambda r: r.pipeline):,.1f})"
    )
    ocr = [r for r in results if r.needs_ocr]
    ocr_done = sum(r.extract.outcome == "ok" for r in ocr)
    console.print(
        f"Needing OCR (images, PDFs with a page under {OCR_PAGE_CHARS} text-layer characters): "
        f"{len(ocr)} files, {ocr_done} completed"
    )
    if unreadable:
        console.print("Without text for either reader (nothing to complete):")
        for r in unreadable:
            console.print(f"  {r.name}: docflow {r.extract.outcome}; bare {r.bare.outcome} "
                          f"{r.bare.detail[:80]}")


if __name__ == "__main__":
    sys.exit(main())
