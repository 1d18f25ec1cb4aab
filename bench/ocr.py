"""OCR accuracy and cost: character error rate (CER) and CPU-seconds per page.

    .venv/bin/python bench/ocr.py [--sroie N] [--pdf-pages N] [--seed S] [--model-dir DIR]
                                  [--dpi D] [--languages eng+deu] [--show-worst K] [--json F]

Two corpora, both from ../shared/datasets (a part whose folder is missing is skipped):

1. SROIE receipt scans (`sroie/documents/*.jpg`) through docflow's own image reader (decode,
   grey, upscale, OCR), against the official gold line transcriptions in
   `sroie/ocr_boxes_train/<id>.csv` (x1,y1,...,y4,text), joined in file order. The gold is
   mostly upper-cased and leaves out some printed words, so SROIE is scored case-insensitively
   and its CER is a floor set by the annotation as much as by OCR.
2. Born-digital PDF pages (kleister_nda contracts, mixed_formats PDFs) rendered at 300 dpi the
   way docflow renders a scanned page, then OCR'd; the truth is the page's own text layer. Pages
   whose text layer is short (< 200 characters) or looks mis-encoded are not sampled.

Both texts are normalised before scoring: Unicode NFKC (ligatures), soft hyphens and control
characters dropped, every run of whitespace one space. CER is edit distance / truth length,
summed over pages (`CER`) and per page (median, p90). Reading order counts in CER; `word F1`
(bag of words) does not, so the two together tell misread characters from reordered blocks.

CPU time is `time.process_time()` of this process (Tesseract runs single-threaded in it), so
other work on the machine does not inflate it; the model is loaded before the clock starts.
Goal (issue 3): CER <= 0.05 on the 300 dpi renders at <= 1.5 CPU-seconds per page.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw
from rich.console import Console
from rich.table import Table

from docflow.pipeline import detect, extract
from docflow.pipeline.errors import OcrUnavailable
from docflow.pipeline.ocr import check_ocr_languages, engine_version, model_dir, ocr_image
from docflow.pipeline.types import Limits, OcrOptions

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
SROIE = DATASETS / "sroie"
PDF_SOURCES = (DATASETS / "kleister_nda" / "documents", DATASETS / "mixed_formats")
GOAL_CER = 0.05
GOAL_CPU_S = 1.5
MIN_TRUTH_CHARS = 200

console = Console(width=None if sys.stdout.isatty() else 170)


# -- scoring ------------------------------------------------------------------------------------


_DROP = re.compile(r"[\u00ad\u200b\u200c\u200d\ufeff\x00-\x08\x0b-\x1f\x7f]")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return _SPACE.sub(" ", _DROP.sub("", text)).strip()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, bit-parallel (Myers 1999, Hyyrö's global form): fast on pages."""
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return len(a)
    peq: dict[str, int] = {}
    for i, char in enumerate(b):
        peq[char] = peq.get(char, 0) | (1 << i)
    mask = (1 << m) - 1
    high = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for char in a:
        eq = peq.get(char, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score


def word_f1(truth: str, found: str) -> float:
    want, got = Counter(truth.split()), Counter(found.split())
    common = sum((want & got).values())
    if not common:
        return 0.0
    precision, recall = common / sum(got.values()), common / sum(want.values())
    return 2 * precision * recall / (precision + recall)


@dataclass
class PageResult:
    name: str
    source: str  # the folder it came from: a table row of its own
    truth_chars: int
    edits: int
    f1: float
    confidence: float | None
    ocr_cpu_s: float  # OCR alone (for SROIE: decode, prepare and OCR through the image reader)
    render_cpu_s: float = 0.0  # PDF pages: rendering at 300 dpi

    @property
    def cer(self) -> float:
        return self.edits / max(self.truth_chars, 1)


@dataclass
class Corpus:
    label: str
    results: list[PageResult] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


# -- SROIE --------------------------------------------------------------------------------------


def sroie_pages(count: int, rng: random.Random) -> Iterator[tuple[str, bytes, str]]:
    images = sorted((SROIE / "documents").glob("*.jpg"))
    rng.shuffle(images)
    for path in images[:count]:
        gold = SROIE / "ocr_boxes_train" / f"{path.stem}.csv"
        if not gold.is_file():
            continue
        lines = []
        for row in gold.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = row.split(",", 8)  # eight coordinates, then text that may hold commas
            if len(parts) == 9:
                lines.append(parts[8])
        yield path.name, path.read_bytes(), "\n".join(lines)


def run_sroie(count: int, rng: random.Random, limits: Limits) -> Corpus:
    corpus = Corpus("SROIE scans")
    for name, data, gold in sroie_pages(count, rng):
        started = time.process_time()
        try:
            extracted = extract(data, detect(data, name, limits), limits)
        except Exception as exc:  # a bench reports failures, it does not stop on them
            corpus.skipped[f"failed: {type(exc).__name__}"] += 1
            continue
        cpu = time.process_time() - started
        scored = _score(name, gold, extracted.text, extracted.ocr_confidence, cpu, fold=True)
        corpus.results.append(scored)
        _progress(corpus, count)
    return corpus


# -- PDF pages rendered at 300 dpi --------------------------------------------------------------


def pdf_files(rng: random.Random) -> list[Path]:
    """PDFs from every source folder, shuffled within each and taken in turn from each."""
    per_source = []
    for folder in PDF_SOURCES:
        files = sorted(folder.glob("*.pdf")) if folder.is_dir() else []
        rng.shuffle(files)
        per_source.append(files)
    turns = itertools.zip_longest(*per_source)
    return [path for turn in turns for path in turn if path is not None]


def run_pdf_renders(count: int, rng: random.Random, options: OcrOptions) -> Corpus:
    corpus = Corpus(f"PDF @{options.dpi} dpi")
    scale = options.dpi / 72
    for path in pdf_files(rng):
        if len(corpus.results) >= count:
            break
        try:
            pdf = pdfium.PdfDocument(path.read_bytes())
        except pdfium.PdfiumError:
            corpus.skipped["cannot open (encrypted or broken)"] += 1
            continue
        try:
            numbers = list(range(len(pdf)))
            rng.shuffle(numbers)
            taken = 0
            for index in numbers:
                if taken == 2 or len(corpus.results) >= count:  # two pages per file at most
                    break
                page = pdf[index]
                try:
                    truth = _text_layer(page)
                    why = _unusable(truth)
                    if why:
                        corpus.skipped[why] += 1
                        continue
                    started = time.process_time()
                    bitmap = page.render(scale=scale, grayscale=True)
                    rendered = time.process_time()
                    try:
                        result = ocr_image(bitmap.to_pil(), options, dpi=options.dpi)
                    finally:
                        bitmap.close()
                    done = time.process_time()
                finally:
                    page.close()
                source = "kleister_nda" if "kleister" in str(path) else path.parent.name
                name = f"{source}/{path.name[:40]} p{index + 1}"
                scored = _score(name, truth, result.text, result.confidence, done - rendered)
                scored.source = source
                scored.render_cpu_s = rendered - started
                corpus.results.append(scored)
                taken += 1
                _progress(corpus, count)
        finally:
            pdf.close()
    return corpus


def _text_layer(page: pdfium.PdfPage) -> str:
    textpage = page.get_textpage()
    try:
        return textpage.get_text_bounded()
    finally:
        textpage.close()


def _unusable(truth: str) -> str | None:
    text = normalise(truth)
    if len(text) < MIN_TRUTH_CHARS:
        return f"text layer < {MIN_TRUTH_CHARS} chars"
    plain = sum(ch.isalnum() or ch.isspace() or ch in ".,;:!?'\"()-/$%&@#*+=[]<>" for ch in text)
    if "\ufffd" in text or plain / len(text) < 0.9:
        return "text layer looks mis-encoded"
    return None


# -- report -------------------------------------------------------------------------------------


def _score(
    name: str, truth: str, found: str, confidence: float | None, cpu: float, fold: bool = False
) -> PageResult:
    truth, found = normalise(truth), normalise(found)
    if fold:
        truth, found = truth.casefold(), found.casefold()
    return PageResult(
        name=name,
        source="sroie",
        truth_chars=len(truth),
        edits=edit_distance(truth, found),
        f1=word_f1(truth, found),
        confidence=confidence,
        ocr_cpu_s=cpu,
    )


def _progress(corpus: Corpus, count: int) -> None:
    if sys.stderr.isatty():
        print(f"\r{corpus.label[:40]}: {len(corpus.results)}/{count}", end="", file=sys.stderr)


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def report(corpora: list[Corpus], options: OcrOptions, show_worst: int) -> None:
    table = Table(
        title="OCR: character error rate, and CPU-seconds per page (process time)",
        title_justify="left",
        caption="SROIE: scans through docflow's image reader vs gold lines (case-folded). "
        "PDF: born-digital pages rendered, then OCR'd, vs their text layer.",
        caption_justify="left",
    )
    headers = ("corpus", "source", "pages", "chars /page", "CER", "CER med", "CER p90",
               "word F1", "conf", "OCR s /page", "OCR p90", "render s /page", "total s /page",
               "OCR ms /1k chars")
    for header in headers:
        table.add_column(header, justify="left" if header in ("corpus", "source") else "right")
    for corpus in corpora:
        sources = sorted({r.source for r in corpus.results})
        groups = [(source, [r for r in corpus.results if r.source == source]) for source in sources]
        if len(groups) > 1:
            groups.append(("all", corpus.results))
        if not groups:
            table.add_row(corpus.label, "-", "0", *["-"] * (len(headers) - 3))
        for index, (source, results) in enumerate(groups):
            label = corpus.label if index == 0 else ""
            table.add_row(label, source, *_row(results), end_section=index == len(groups) - 1)
    console.print(table)
    for corpus in corpora:
        if corpus.skipped:
            reasons = ", ".join(f"{why}: {n}" for why, n in corpus.skipped.most_common())
            console.print(f"[dim]{corpus.label}: not sampled: {reasons}[/dim]")
    renders = next((c for c in corpora if c.label.startswith("PDF") and c.results), None)
    if renders:
        chars = sum(r.truth_chars for r in renders.results)
        cer = sum(r.edits for r in renders.results) / chars
        cpu = statistics.mean(r.ocr_cpu_s + r.render_cpu_s for r in renders.results)
        met = cer <= GOAL_CER and cpu <= GOAL_CPU_S
        verdict = "[green]met[/green]" if met else "[red]missed[/red]"
        console.print(
            f"Goal on the {options.dpi} dpi renders: CER {cer:.4f} (<= {GOAL_CER}) at "
            f"{cpu:.2f} CPU-s/page, render included (<= {GOAL_CPU_S}): {verdict}"
        )
    for corpus in corpora:
        worst = sorted(corpus.results, key=lambda r: r.cer, reverse=True)[:show_worst]
        for r in worst:
            console.print(f"[dim]worst: {r.name}  CER {r.cer:.3f}  word F1 {r.f1:.3f}  "
                          f"{r.truth_chars:,} chars[/dim]")


def _row(results: list[PageResult]) -> list[str]:
    cers = [r.cer for r in results]
    ocr = [r.ocr_cpu_s for r in results]
    confidences = [r.confidence for r in results if r.confidence is not None]
    chars = sum(r.truth_chars for r in results)
    return [
        str(len(results)),
        f"{chars / len(results):,.0f}",
        f"{sum(r.edits for r in results) / chars:.4f}",
        f"{statistics.median(cers):.4f}",
        f"{_p90(cers):.4f}",
        f"{statistics.mean(r.f1 for r in results):.3f}",
        f"{statistics.mean(confidences):.2f}" if confidences else "-",
        f"{statistics.mean(ocr):.2f}",
        f"{_p90(ocr):.2f}",
        f"{statistics.mean(r.render_cpu_s for r in results):.2f}",
        f"{statistics.mean(r.ocr_cpu_s + r.render_cpu_s for r in results):.2f}",
        f"{1000 * sum(ocr) / chars * 1000:.0f}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sroie", type=int, default=20, help="receipt scans (0: skip)")
    parser.add_argument("--pdf-pages", type=int, default=24, help="PDF pages (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-dir", help="a folder of .traineddata models to use instead")
    parser.add_argument("--languages", default="eng", help="e.g. eng or eng+deu")
    parser.add_argument("--dpi", type=int, default=300, help="render resolution for PDF pages")
    parser.add_argument("--show-worst", type=int, default=3, help="worst pages listed per corpus")
    parser.add_argument("--json", type=Path, help="also write every page's result here")
    args = parser.parse_args(argv)

    options = OcrOptions(
        languages=tuple(args.languages.split("+")), model_dir=args.model_dir, dpi=args.dpi
    )
    limits = Limits(ocr=options)
    if not DATASETS.is_dir():
        console.print(f"[yellow]No datasets at {DATASETS}; nothing to measure.[/yellow]")
        return 0
    try:
        check_ocr_languages(options)
    except OcrUnavailable as exc:
        console.print(f"[red]{exc.message}[/red]")
        return 1
    model = model_dir(options) / f"{options.languages[0]}.traineddata"
    size = model.stat().st_size / 1e6 if model.is_file() else 0
    console.print(
        f"{engine_version()}, model {model} ({size:.1f} MB), "
        f"languages {'+'.join(options.languages)}, one process, CPU time measured"
    )
    load = os.getloadavg()[0]
    console.print(f"Load average at the start: {load:.2f} on {os.cpu_count()} CPUs (contention "
                  "inflates CPU time too: caches, frequency)")
    ocr_image(_warm_up_image(), options)  # load the model before any clock starts

    rng = random.Random(args.seed)
    corpora: list[Corpus] = []
    if args.sroie and (SROIE / "documents").is_dir():
        corpora.append(run_sroie(args.sroie, rng, limits))
    elif args.sroie:
        console.print(f"[yellow]{SROIE} is missing; SROIE skipped.[/yellow]")
    if args.pdf_pages and any(folder.is_dir() for folder in PDF_SOURCES):
        corpora.append(run_pdf_renders(args.pdf_pages, rng, options))
    elif args.pdf_pages:
        console.print("[yellow]No PDF source folder found; PDF renders skipped.[/yellow]")
    if sys.stderr.isatty():
        print(file=sys.stderr)
    report(corpora, options, args.show_worst)
    if args.json:
        rows = [dict(corpus=c.label, **r.__dict__) for c in corpora for r in c.results]
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


def _warm_up_image() -> Image.Image:
    image = Image.new("L", (400, 100), 255)
    ImageDraw.Draw(image).text((10, 40), "warm up", fill=0)
    return image


if __name__ == "__main__":
    raise SystemExit(main())
