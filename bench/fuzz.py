"""Fuzz: coverage-guided fuzzing of each reader through docflow's front door, with atheris.

    .venv/bin/python bench/fuzz.py [--seconds-per-reader 60] [--readers pdf,html,...]
                                   [--findings DIR] [--datasets PATH]

Each reader (pdf, docx, xlsx, pptx, rtf, doc, ppt, xls, html, eml, msg, zip, tar, png, jpeg,
tiff) is fuzzed in a subprocess of its own (atheris sets up once per process): `detect` +
`extract` with the worker's Limits and OCR off, starting from seed files (small real ones from
../shared/datasets where present, plus a few made here with the test suite's fixture builders).
docflow's pipeline modules are instrumented (`atheris.instrument_imports`); native libraries
(pdfium, kreuzberg, Pillow's codecs) are not, so coverage counts Python branches only.

A finding is any exception other than docflow's own DocumentError subclasses and OcrDeferred.
The harness catches it, saves the input and its traceback under --findings/<reader>/ (once per
exception type + raising frame) and goes on. libFuzzer itself stops on an input that runs past
--timeout-s (a hang), grows past --rss-limit-mb or kills the process (a native crash); that input
is saved as timeout-*/oom-*/crash-* and the reader starts again for the time left. The table
gives per reader: executions, exec/s, coverage (libFuzzer's `cov` and `ft`), and findings.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATASETS = REPO.parent / "shared" / "datasets"
DEFAULT_FINDINGS = REPO.parent / "fuzz-findings"
MAX_SEED_BYTES = 200_000
SEEDS_PER_READER = 6
MAX_RESTARTS = 5

# reader -> (the file name docflow is given, extensions of real seed files)
READERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pdf": ("fuzz.pdf", (".pdf",)),
    "docx": ("fuzz.docx", (".docx",)),
    "xlsx": ("fuzz.xlsx", (".xlsx",)),
    "pptx": ("fuzz.pptx", (".pptx",)),
    "rtf": ("fuzz.rtf", (".rtf",)),
    "doc": ("fuzz.doc", (".doc",)),
    "ppt": ("fuzz.ppt", (".ppt",)),
    "xls": ("fuzz.xls", (".xls",)),
    "html": ("fuzz.html", (".html", ".htm")),
    "eml": ("fuzz.eml", (".eml",)),
    "msg": ("fuzz.msg", (".msg",)),
    "zip": ("fuzz.zip", (".zip",)),
    "tar": ("fuzz.tar", (".tar",)),
    "png": ("fuzz.png", (".png",)),
    "jpeg": ("fuzz.jpg", (".jpg", ".jpeg")),
    "tiff": ("fuzz.tiff", (".tif", ".tiff")),
}


# ---------------------------------------------------------------- the harness (in the child)

@dataclass
class Finding:
    reader: str
    key: str  # exception type + the frame that raised it
    exception: str
    traceback: str
    data: bytes = field(repr=False)


def finding_key(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    top = frames[-1] if frames else None
    where = f"{Path(top.filename).name}:{top.lineno}:{top.name}" if top else "?"
    return f"{type(exc).__name__}@{where}"


def make_harness(reader: str) -> Callable[[bytes], Finding | None]:
    """One input through detect + extract; returns a Finding for anything but a DocumentError."""
    from dataclasses import replace

    from docflow.config import Settings
    from docflow.pipeline import DocumentError, detect, extract
    from docflow.pipeline.errors import OcrDeferred

    limits = Settings().limits
    limits = replace(limits, ocr=replace(limits.ocr, enabled=False))
    name = READERS[reader][0]

    def one_input(data: bytes) -> Finding | None:
        try:
            extract(data, detect(data, name, limits), limits)
        except (DocumentError, OcrDeferred):
            return None
        except Exception as exc:  # anything else is a reader bug: that is what we look for
            return Finding(reader, finding_key(exc), f"{type(exc).__name__}: {exc}"[:500],
                           "".join(traceback.format_exception(exc)), data)
        return None

    return one_input


def save_finding(finding: Finding, folder: Path) -> Path | None:
    """Keep the first input per key; returns its path, or None when the key was seen."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.@-]", "_", finding.key)[:80] + "-" + hashlib.sha1(
        finding.key.encode()).hexdigest()[:8]
    path = folder / f"{stem}.bin"
    if path.exists():
        return None
    path.write_bytes(finding.data)
    (folder / f"{stem}.txt").write_text(f"{finding.exception}\n\n{finding.traceback}")
    return path


def run_child(reader: str, findings: Path, fuzzer_args: list[str]) -> None:
    """The subprocess: instrument docflow, then let libFuzzer drive the harness."""
    import atheris

    with atheris.instrument_imports(include=["docflow"]):
        one_input = make_harness(reader)
    seen: set[str] = set()

    def test_one_input(data: bytes) -> None:
        finding = one_input(data)
        if finding is not None and finding.key not in seen:
            seen.add(finding.key)
            path = save_finding(finding, findings / reader)
            print(f"FINDING {finding.key} {path} :: {finding.exception[:200]}",
                  file=sys.stderr, flush=True)

    atheris.Setup([sys.argv[0], *fuzzer_args], test_one_input)
    atheris.Fuzz()


# ---------------------------------------------------------------- seeds

def real_seeds(datasets: Path, reader: str) -> list[tuple[str, bytes]]:
    extensions = READERS[reader][1]
    found = []
    for path in sorted(datasets.glob("*/**/*")) if datasets.is_dir() else []:
        if (path.suffix.lower() in extensions and path.is_file()
                and path.stat().st_size <= MAX_SEED_BYTES):
            found.append(path)
    found.sort(key=lambda p: p.stat().st_size)
    step = max(1, len(found) // SEEDS_PER_READER)  # small and large, not just the smallest
    return [(p.name, p.read_bytes()) for p in found[::step][:SEEDS_PER_READER]]


def generated_seeds(reader: str) -> list[tuple[str, bytes]]:
    """Small files made here, so every reader has seeds without the shared datasets."""
    if str(REPO) not in sys.path:  # the builders live in tests/, beside bench/
        sys.path.insert(0, str(REPO))
    try:
        return [(f"made.{reader}", data) for data in _make(reader)]
    except ImportError:  # the builders need the dev extras (python-docx, XlsxWriter, ...)
        return []


def _make(reader: str) -> list[bytes]:
    text = "Invoice 2024-17 from Example GmbH, total 1,234.50 EUR, due 12 March 2024."
    if reader == "pdf":
        from tests.fixtures import make_pdf
        return [make_pdf([text, "Page two"])]
    if reader == "docx":
        from tests.fixtures_office import make_full_docx
        return [make_full_docx()]
    if reader == "xlsx":
        from tests.fixtures_office import make_xlsx
        return [make_xlsx({"Totals": [["Item", "Amount"], ["Fee", 1234.5], ["Date", "2024"]]})]
    if reader == "pptx":
        from tests.fixtures_office import make_pptx
        return [make_pptx([("Title", text, "notes")])]
    if reader == "rtf":
        from tests.fixtures_office import make_rtf
        return [make_rtf([text, "Zweite Zeile: Grüße"])]
    if reader == "doc":
        from tests.fixtures_legacy import make_doc6, make_doc97
        return [make_doc97([f"{text}\r", "\x02 A footnote\r", "A comment\r"],
                           headers=["\x03\r", "Letterhead\r"]),
                make_doc6(text, fast_saved=True)]
    if reader == "xls":
        from tests.fixtures_legacy import make_xls
        return [make_xls([[(38218.0, "d-mmm-yy"), (270.65, "0.000"), (0.125, "0.00%")],
                          [(1234.5, '#,##0.00 "EUR"'), (-3.5, "0.0;[Red](0.0)"), (1, "@")]])]
    if reader == "ppt":
        from tests.fixtures_legacy import (
            DOCUMENT,
            NOTES,
            SLIDE,
            chars,
            container,
            make_ppt,
            text_bytes,
            text_header,
        )
        slide = container(SLIDE, text_header(1), chars(text), text_header(0), text_bytes("Title"))
        return [make_ppt(container(DOCUMENT) + slide
                         + container(NOTES, text_header(2), chars("Speaker notes")))]
    if reader == "html":
        return [f"<html><head><title>T</title><style>p{{}}</style></head><body><h1>Hi</h1>"
                f"<p>{text}</p><table><tr><td>a</td><td>1</td></tr></table></body></html>"
                .encode()]
    if reader == "eml":
        from tests.fixtures_mail import make_eml
        return [make_eml("Invoice", text, html=f"<p>{text}</p>",
                         attachments=[("a.txt", b"attached text")])]
    if reader == "msg":
        from tests.fixtures_mail import make_msg
        return [make_msg("Invoice", text, attachments=[("a.txt", b"attached text")])]
    if reader == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("a.txt", text)
            archive.writestr("dir/b.html", "<p>member</p>")
        return [buffer.getvalue()]
    if reader == "tar":
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for name, content in (("a.txt", text.encode()), ("dir/b.html", b"<p>m</p>")):
                info = tarfile.TarInfo(name)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
        return [buffer.getvalue()]
    from PIL import Image, ImageDraw

    image = Image.new("L", (160, 40), 255)
    ImageDraw.Draw(image).text((4, 10), "Total 12.50", fill=0)
    out = io.BytesIO()
    image.save(out, format={"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF"}[reader])
    return [out.getvalue()]


# ---------------------------------------------------------------- the parent

@dataclass
class ReaderRun:
    reader: str
    seeds: int = 0
    executions: int = 0
    seconds: float = 0.0
    coverage: str = "-"
    features: str = "-"
    starts: int = 0
    findings: list[str] = field(default_factory=list)  # key :: exception :: saved input


_STAT = re.compile(r"stat::(\w+):\s*(\d+)")
_COVERAGE = re.compile(r"cov: (\d+) ft: (\d+)")
_FINDING = re.compile(r"^FINDING (\S+) (\S+) :: (.*)$", re.M)


def fuzz_reader(reader: str, args: argparse.Namespace, workdir: Path) -> ReaderRun:
    run = ReaderRun(reader)
    corpus = workdir / reader
    corpus.mkdir()
    for number, (name, data) in enumerate(real_seeds(args.datasets, reader)
                                          + generated_seeds(reader)):
        (corpus / f"seed{number}-{Path(name).name}").write_bytes(data)
        run.seeds += 1
    artifacts = args.findings / reader
    artifacts.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + args.seconds_per_reader
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]), "OMP_THREAD_LIMIT": "1"}
    while run.starts <= MAX_RESTARTS and (left := int(deadline - time.monotonic())) > 0:
        run.starts += 1
        before = set(artifacts.iterdir())
        command = [sys.executable, str(Path(__file__).resolve()), "--child", reader,
                   "--findings", str(args.findings), "--", str(corpus),
                   f"-max_total_time={left}", f"-timeout={args.timeout_s}",
                   f"-rss_limit_mb={args.rss_limit_mb}", f"-max_len={MAX_SEED_BYTES}",
                   f"-artifact_prefix={artifacts}/", "-print_final_stats=1"]
        started = time.monotonic()
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=env,
                                  timeout=left + args.timeout_s + 120, errors="replace")
            output, code = done.stderr + done.stdout, done.returncode
        except subprocess.TimeoutExpired as exc:
            output = (exc.stderr or b"").decode("utf-8", "replace")
            code = -9
        run.seconds += time.monotonic() - started
        stats = dict(_STAT.findall(output))
        run.executions += int(stats.get("number_of_executed_units", 0))
        if not stats:  # killed before final stats: count from the progress lines
            progress = re.findall(r"^#(\d+)\s", output, re.M)
            run.executions += int(progress[-1]) if progress else 0
        if coverage := _COVERAGE.findall(output):
            run.coverage, run.features = coverage[-1]
        for key, path, exception in _FINDING.findall(output):
            run.findings.append(f"{key} :: {exception} :: {path}")
        new = sorted(set(artifacts.iterdir()) - before)
        for artifact in (p for p in new if p.name.startswith(("timeout-", "oom-", "crash-",
                                                                "slow-unit-"))):
            kind = artifact.name.split("-")[0]
            (artifact.parent / f"{artifact.name}.log").write_text(output[-20_000:])
            run.findings.append(f"{kind} :: libFuzzer stopped the run ({_tail(output)}) "
                                f":: {artifact}")
        if code == 0 or "-max_total_time" in output and "Done " in output:
            break
        if not new and code != 0:
            run.findings.append(f"exit {code} :: {_tail(output)} :: -")
            break
    return run


def _tail(output: str) -> str:
    """libFuzzer's ERROR line (why it stopped), else the last lines of the output."""
    errors = [line.strip() for line in output.splitlines() if "ERROR: libFuzzer" in line]
    if errors:
        return errors[-1][:300]
    lines = [line for line in output.splitlines() if line.strip()
             and not line.startswith(("#", "INFO", "stat::", "MS:", "Done"))]
    return " | ".join(lines[-3:])[:300]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds-per-reader", type=int, default=60)
    parser.add_argument("--readers", default=",".join(READERS),
                        help=f"comma-separated, of: {', '.join(READERS)}")
    parser.add_argument("--findings", type=Path, default=DEFAULT_FINDINGS,
                        help="where crashing inputs are saved (keep it outside the repository)")
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--timeout-s", type=int, default=10, help="one input longer: a hang")
    parser.add_argument("--rss-limit-mb", type=int, default=2048)
    parser.add_argument("--json", type=Path, help="write the per-reader results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.child:
        run_child(args.child, args.findings, [a for a in rest if a != "--"])
        return 0
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed (pip install -c constraints.txt atheris); skipped.")
        return 0
    readers = [r.strip() for r in args.readers.split(",") if r.strip()]
    unknown = sorted(set(readers) - set(READERS))
    if unknown:
        parser.error(f"unknown readers: {', '.join(unknown)}")
    if not args.datasets.is_dir():
        print(f"No datasets at {args.datasets}: seeds are the generated files only.")

    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    runs = []
    with tempfile.TemporaryDirectory(prefix="docflow-fuzz-") as temp:
        for reader in readers:
            console.print(f"fuzzing {reader} for {args.seconds_per_reader} s ...")
            runs.append(fuzz_reader(reader, args, Path(temp)))
    table = Table(title=f"atheris, {args.seconds_per_reader} s per reader, detect + extract "
                        "(OCR off); coverage = Python branches in docflow")
    for column in ("reader", "seeds", "starts", "executions", "exec/s", "cov", "ft", "findings"):
        table.add_column(column, justify="left" if column in ("reader", "findings") else "right")
    for run in runs:
        table.add_row(run.reader, str(run.seeds), str(run.starts), f"{run.executions:,}",
                      f"{run.executions / run.seconds:,.0f}" if run.seconds else "-",
                      run.coverage, run.features, str(len(run.findings)))
    console.print(table)
    for run in runs:
        for finding in run.findings:
            console.print(f"[red]{run.reader}[/]: {finding}", soft_wrap=True)
    if not any(run.findings for run in runs):
        console.print("No findings.")
    console.print(f"Findings (inputs + tracebacks): {args.findings}")
    if args.json:
        args.json.write_text(json.dumps([run.__dict__ for run in runs], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
