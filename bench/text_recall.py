"""Text recall: how much of a document's real text docflow gets, against independent readers.

    .venv/bin/python bench/text_recall.py [--datasets PATH] [--limit-per-format N] [--no-ocr]
                                          [--extra DIR ...] [--only-extra] [--readers]
                                          [--show-files] [--json OUT]

Every file of ../shared/datasets/mixed_formats, and the PDFs/Office files/e-mails under the other
sets' documents/ folders (--limit-per-format N of each format per set), plus one ZIP and one
TAR.GZ made here from a few of those files, and every file under each `--extra DIR` (say, the
legacy Office files bench/gather_legacy.py fetches; each folder is reported apart, and
`--readers` scores each of docflow's .doc, .ppt and .xls readers alone), goes through docflow's
front door the way a worker runs it: `process_document` with the worker's Limits (from
Settings), then every child (attachment, archive member) the same way, recursively. Its text
is the host's text plus all of its descendants' text.

The reference shares no code with docflow's readers:
  PDF                       poppler's `pdftotext -enc UTF-8`
  DOCX/DOC/ODT/RTF          LibreOffice headless, `--convert-to txt` (one soffice per batch)
  XLSX/XLS/ODS              LibreOffice headless, CSV of every sheet as shown
  PPTX/PPT/ODP              LibreOffice headless to PDF, then `pdftotext`
  EML                       Python's email: text/plain and text/html parts (one of each
                            multipart/alternative, plain first), tags stripped with html.parser;
                            other attachments by their own reference
  HTML                      html.parser, without head/script/style
  ZIP/TAR                   zipfile/tarfile members, each by its own reference
Formats without a reference (images, MSG, EPUB, plain text) are listed, not scored. A format
whose tool is not installed (shutil.which) is skipped with a message; the tools come from Debian
(poppler-utils, libreoffice-*-nogui) and are never a runtime dependency of docflow.

Word recall (see `words`): NFKC, lower case; soft hyphens dropped and a word hyphenated at a line
end joined ("docu-\\nment" -> "document"), in both texts alike; a separator between digits
("1,234.50", "1'234", a no-break space; not a plain space, which readers lay out differently)
dropped, so "1,234.50" and "1234.50" are one word while "1234.5" stays another (spreadsheets are
compared as shown); words are `\\w+` tokens of two or more characters. Recall = sum over
words of min(reference count, docflow count) / reference words. Only files whose reference
has >= 20 words count toward the means and the goals; a docflow failure there scores 0.

CPU: docflow's is time.process_time() around its calls; the reference's is the CPU of the child
processes (resource.getrusage(RUSAGE_CHILDREN)) plus the in-process parsers; a soffice batch's
CPU is shared evenly by its files.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import email
import email.policy
import html.parser
import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import unicodedata
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATASETS = REPO.parent / "shared" / "datasets"
MIN_WORDS = 20  # files whose reference has fewer words say little about recall
LOW_RECALL = 0.8
GOAL_MEAN = 0.97
GOAL_LOW_SHARE = 0.01
SOFFICE_BATCH = 40
TOOL_TIMEOUT_S = 600
MAX_DEPTH = 4  # children of children: docflow itself stops at Limits.max_archive_depth

# Which reference reads a file, by extension.
REFERENCE = {
    "pdf": "pdftotext",
    "docx": "writer", "doc": "writer", "dot": "writer", "odt": "writer", "rtf": "writer",
    "xlsx": "calc", "xls": "calc", "xlt": "calc", "ods": "calc",
    "pptx": "impress", "ppt": "impress", "pps": "impress", "pot": "impress", "odp": "impress",
    "eml": "email", "html": "html", "htm": "html",
    "zip": "archive", "tar": "archive", "tgz": "archive", "gz": "archive",
}
TOOLS = {"pdftotext": ["pdftotext"], "writer": ["soffice"], "calc": ["soffice"],
         "impress": ["soffice", "pdftotext"]}
SOFFICE_FILTER = {
    "writer": "txt:Text (encoded):UTF8",
    # separator, quote, UTF-8, from row 1, ..., save as shown, every sheet to its own file (-1)
    "calc": "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1",
    "impress": "pdf",
}
FAILED_READ = ("encrypted", "corrupt", "decompression_bomb")

console = Console(width=None if sys.stdout.isatty() else 160)

_SOFT_HYPHEN = re.compile("[\u00ad\x02]")
_LINE_HYPHEN = re.compile(r"(\w)-[ \t]*\r?\n\s*(\w)")
_NUMBER_SEPARATOR = re.compile(r"(?<=\d)[,.'\u00a0\u202f](?=\d)")
_WORD = re.compile(r"\w\w+")


def words(text: str) -> Counter[str]:
    """The multiset of words the recall compares (rules in the module docstring)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _SOFT_HYPHEN.sub("", text)
    text = _LINE_HYPHEN.sub(r"\1\2", text)
    text = _NUMBER_SEPARATOR.sub("", text)
    return Counter(_WORD.findall(text))


def recall(reference: Counter[str], docflow: Counter[str]) -> float:
    """Share of the reference's words docflow has, each counted at most as often as it has it."""
    total = sum(reference.values())
    if not total:
        return 1.0
    return sum(min(count, docflow[word]) for word, count in reference.items()) / total


def missed_words(reference: Counter[str], docflow: Counter[str], top: int = 12) -> list[str]:
    missing = Counter({w: c - docflow[w] for w, c in reference.items() if c > docflow[w]})
    return [f"{w}x{c}" if c > 1 else w for w, c in missing.most_common(top)]


# ---------------------------------------------------------------- the reference side

@dataclass
class Leaf:
    """One file a reference tool reads; `host` is the index of the corpus file it belongs to."""

    host: int
    name: str
    kind: str
    data: bytes = field(repr=False)
    text: str = ""
    ok: bool = False
    detail: str = ""
    cpu: float = 0.0


@dataclass
class Reference:
    text: list[str] = field(default_factory=list)  # text read in-process (e-mail, HTML)
    leaves: list[Leaf] = field(default_factory=list)
    cpu: float = 0.0  # in-process parsing
    members: dict[str, list[str]] = field(default_factory=dict)  # archive name -> member names
    missing_tool: str = ""
    failed: str = ""  # the host itself could not be read by its reference


def kind_of(name: str) -> str | None:
    suffixes = [s.lower().lstrip(".") for s in PurePosixPath(name).suffixes[-2:]]
    if suffixes[-1:] == ["gz"] and suffixes[:1] != ["tar"]:
        return None  # a lone .gz is not an archive of files
    return REFERENCE.get(suffixes[-1]) if suffixes else None


def expand(host: int, name: str, data: bytes, ref: Reference, depth: int = 0) -> None:
    """Open containers with the standard library; leave the rest to the tools."""
    kind = kind_of(name)
    if kind is None or depth > MAX_DEPTH:
        return
    started = time.process_time()
    try:
        if kind == "email":
            _expand_email(host, data, ref, depth)
        elif kind == "html":
            ref.text.append(html_text(data))
        elif kind == "archive":
            members = list(archive_members(name, data))
            ref.members[name] = [member for member, _ in members]
            for member, content in members:
                if content is not None:
                    expand(host, member, content, ref, depth + 1)
        else:
            ref.leaves.append(Leaf(host, name, kind, data))
    except Exception as exc:  # a reference that cannot read the file says so
        if depth == 0:
            ref.failed = f"{type(exc).__name__}: {exc}"
    finally:
        ref.cpu += time.process_time() - started


def _expand_email(host: int, data: bytes, ref: Reference, depth: int) -> None:
    message = email.message_from_bytes(data, policy=email.policy.default)
    ref.text.append(str(message.get("subject", "")))
    for part in _email_parts(message):
        ctype = part.get_content_type()
        if ctype in ("text/plain", "text/html"):
            text = _part_text(part)
            ref.text.append(html_text(text.encode()) if ctype == "text/html" else text)
        elif part.get_filename():
            payload = part.get_payload(decode=True)
            if payload:
                expand(host, part.get_filename(), payload, ref, depth + 1)


def _email_parts(part: email.message.Message) -> Iterator[email.message.Message]:
    """Leaf parts, one alternative of each multipart/alternative (plain, else html, else first)."""
    if part.get_content_type() == "multipart/alternative":
        options = part.get_payload()
        chosen = next((p for want in ("text/plain", "text/html") for p in options
                       if p.get_content_type() == want), options[0] if options else None)
        if chosen is not None:
            yield from _email_parts(chosen)
    elif part.is_multipart():
        for sub in part.get_payload():
            yield from _email_parts(sub)
    else:
        yield part


def _part_text(part: email.message.Message) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError):
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace")


class _TextOfHtml(html.parser.HTMLParser):
    HIDDEN = {"head", "script", "style", "template", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:  # type: ignore[type-arg]
        self.hidden += tag in self.HIDDEN

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in self.HIDDEN and self.hidden > 0

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_text(data: bytes) -> str:
    parser = _TextOfHtml()
    parser.feed(decode_html(data))
    parser.close()
    return " ".join(parser.parts)


def decode_html(data: bytes) -> str:
    """BOM, then <meta charset>, then UTF-8, then cp1252."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"),
                       (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, "replace")
    declared = re.search(rb"""<meta[^>]+charset=["']?([\w-]+)""", data[:4096], re.I)
    codecs = [declared.group(1).decode()] if declared else []
    for codec in [*codecs, "utf-8"]:
        with contextlib.suppress(LookupError, UnicodeDecodeError):
            return data.decode(codec)
    return data.decode("cp1252", "replace")


def archive_members(name: str, data: bytes) -> Iterator[tuple[str, bytes | None]]:
    """(path, bytes) of every regular file; bytes None for a member behind a password."""
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    locked = info.flag_bits & 0x1
                    yield info.filename, None if locked else archive.read(info)
        return
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        for info in archive:
            if info.isfile():
                handle = archive.extractfile(info)
                yield info.name, handle.read() if handle else None


def run_tools(leaves: list[Leaf], workdir: Path) -> None:
    """Read every leaf with its tool: pdftotext one by one, soffice one batch per filter."""
    by_kind: dict[str, list[Leaf]] = defaultdict(list)
    for leaf in leaves:
        by_kind[leaf.kind].append(leaf)
    for leaf in by_kind.pop("pdftotext", []):
        leaf.text, leaf.ok, leaf.detail, leaf.cpu = pdftotext_bytes(leaf.data, workdir)
    for kind, group in by_kind.items():
        for start in range(0, len(group), SOFFICE_BATCH):
            batch = group[start:start + SOFFICE_BATCH]
            soffice_batch(kind, batch, workdir / f"{kind}{start}")
            missing = [leaf for leaf in batch if not leaf.ok] if len(batch) > 1 else []
            for number, leaf in enumerate(missing):  # a file that broke its batch, alone
                soffice_batch(kind, [leaf], workdir / f"{kind}{start}-{number}")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pdftotext_file(path: Path) -> tuple[str, bool, str]:
    try:
        done = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"],
                              capture_output=True, timeout=TOOL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return "", False, "timeout"
    detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return (done.stdout.decode("utf-8", "replace"), done.returncode == 0,
            detail[-1] if detail else "")


def pdftotext_bytes(data: bytes, workdir: Path) -> tuple[str, bool, str, float]:
    path = workdir / "in.pdf"
    path.write_bytes(data)
    before = children_cpu()
    text, ok, detail = pdftotext_file(path)
    return text, ok, detail, children_cpu() - before


def soffice_batch(kind: str, batch: list[Leaf], folder: Path) -> None:
    """One soffice run converts the whole batch (private profile, so runs never collide)."""
    inputs, outputs = folder / "in", folder / "out"
    inputs.mkdir(parents=True)
    paths = []
    for number, leaf in enumerate(batch):
        path = inputs / f"f{number:04d}{Path(leaf.name).suffix.lower()}"
        path.write_bytes(leaf.data)
        paths.append(path)
    before = children_cpu()
    command = ["soffice", "--headless", "--norestore",
               f"-env:UserInstallation=file://{folder / 'profile'}",
               "--convert-to", SOFFICE_FILTER[kind], "--outdir", str(outputs),
               *map(str, paths)]
    try:
        subprocess.run(command, capture_output=True, timeout=TOOL_TIMEOUT_S,
                       stdin=subprocess.DEVNULL)
        detail = ""
    except subprocess.TimeoutExpired:
        detail = "soffice timed out"
    for leaf, path in zip(batch, paths, strict=True):
        if kind == "writer":
            found = sorted(outputs.glob(f"{path.stem}.txt"))
        elif kind == "calc":
            found = sorted([*outputs.glob(f"{path.stem}.csv"), *outputs.glob(f"{path.stem}-*.csv")])
        else:
            found = sorted(outputs.glob(f"{path.stem}.pdf"))
        texts, ok = [], bool(found)
        for output in found:
            if kind == "impress":
                text, read, why = pdftotext_file(output)
                ok, detail = ok and read, why or detail
                texts.append(text)
            elif kind == "calc":
                with output.open(encoding="utf-8", errors="replace", newline="") as handle:
                    texts.append("\n".join(" ".join(row) for row in csv.reader(handle)))
            else:
                texts.append(output.read_text(encoding="utf-8-sig", errors="replace"))
        leaf.text, leaf.ok = "\n".join(texts), ok
        leaf.detail = detail or ("" if ok else "soffice wrote nothing (password or unreadable)")
    cpu = children_cpu() - before
    for leaf in batch:
        leaf.cpu = cpu / len(batch)


# ---------------------------------------------------------------- the docflow side

@dataclass
class DocflowTree:
    outcome: str = "ok"  # "ok", a DocumentError code, "needs_ocr" or "crash: Type"
    detail: str = ""
    text: list[str] = field(default_factory=list)
    cpu: float = 0.0
    children: int = 0
    child_failures: list[str] = field(default_factory=list)
    # archive (its name in the tree) -> the member paths docflow made children of
    archives: dict[str, list[str]] = field(default_factory=dict)


def read_with_docflow(name: str, data: bytes, limits: object) -> DocflowTree:
    from docflow.pipeline import DocumentError, process_document
    from docflow.pipeline.errors import OcrDeferred

    tree = DocflowTree()
    started = time.process_time()

    def visit(name: str, data: bytes, depth: int) -> None:
        try:
            result = process_document(data, name, limits)  # type: ignore[arg-type]
        except DocumentError as exc:
            outcome, detail = exc.code, exc.message
        except OcrDeferred as exc:
            outcome, detail = "needs_ocr", str(exc)
        except Exception as exc:  # a crash is a finding, not the end of the run
            outcome, detail = f"crash: {type(exc).__name__}", str(exc)[:200]
        else:
            tree.text.append(result.extracted.text)
            if result.detected.format in ("zip", "tar"):
                tree.archives[name] = [child.path or child.filename for child in result.children]
            for child in result.children:
                tree.children += 1
                if depth < MAX_DEPTH:
                    visit(child.filename, child.data, depth + 1)
            return
        if depth == 0:
            tree.outcome, tree.detail = outcome, detail
        else:
            tree.child_failures.append(f"{name}: {outcome}")

    visit(name, data, 0)
    tree.cpu = time.process_time() - started
    return tree


# ---------------------------------------------------------------- the run

@dataclass
class FileRow:
    name: str
    dataset: str
    format: str
    outcome: str
    detail: str
    reference: str  # the tool, "none" or "missing <tool>"
    reference_ok: bool
    reference_detail: str
    reference_words: int
    docflow_words: int
    recall: float | None
    missed: list[str]
    children: int
    child_failures: list[str]
    dropped_members: list[str]
    docflow_cpu: float
    reference_cpu: float

    @property
    def scored(self) -> bool:
        return self.recall is not None and self.reference_words >= MIN_WORDS


def corpus(datasets: Path, limit: int | None) -> list[tuple[str, Path]]:
    """(set name, path): all of mixed_formats, and the referenced formats of other sets."""
    files: list[tuple[str, Path]] = []
    mixed = datasets / "mixed_formats"
    if mixed.is_dir():
        files += [("mixed_formats", p) for p in sorted(mixed.iterdir())
                  if p.is_file() and p.name not in ("SOURCES.tsv", "README.md")]
    for folder in sorted(datasets.glob("*/documents")):
        taken: Counter[str] = Counter()
        for path in sorted(folder.iterdir()):
            kind = kind_of(path.name)
            if kind is None or not path.is_file():
                continue
            if limit is not None and taken[kind] >= limit:
                continue
            taken[kind] += 1
            files.append((folder.parent.name, path))
    return files


def extra_files(folders: list[Path]) -> list[tuple[str, Path]]:
    """(folder name, path) of every file under each folder, but its manifest and read-me."""
    files = []
    for folder in folders:
        files += [(folder.name, p) for p in sorted(folder.rglob("*"))
                  if p.is_file() and p.name not in ("MANIFEST.tsv", "SOURCES.tsv", "README.md")]
    return files


def generated_archives(files: list[tuple[str, Path]], workdir: Path) -> list[tuple[str, Path]]:
    """A ZIP (with a folder) and a TAR.GZ of a few corpus files, to see archive members come
    through whole; none of the shared sets has an archive."""
    picks: list[Path] = []
    for wanted in ("pdf", "docx", "xlsx", "pptx", "eml", "html", "odt", "rtf"):
        found = next((p for _, p in files if p.suffix.lower() == f".{wanted}"
                      and p.stat().st_size < 2_000_000 and "password" not in p.name), None)
        if found is not None:
            picks.append(found)
    if not picks:
        return []
    zipped, tarred = workdir / "generated-sample.zip", workdir / "generated-sample.tar.gz"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, path in enumerate(picks):
            archive.write(path, f"{'docs/' if number % 2 else ''}{path.name}")
    with tarfile.open(tarred, "w:gz", dereference=True) as archive:
        for path in picks:
            archive.add(path, f"sub/{path.name}")
    return [("generated", zipped), ("generated", tarred)]


def format_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return "tar"
    extension = path.suffix.lower().lstrip(".")
    return {"jpg": "jpeg", "htm": "html", "tif": "tiff"}.get(extension, extension)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--limit-per-format", type=int, default=None,
                        help="at most N files of each format from each set besides mixed_formats")
    parser.add_argument("--no-ocr", action="store_true",
                        help="text layers only: no page is OCR'd, images are not scored")
    parser.add_argument("--extra", type=Path, action="append", default=[], metavar="DIR",
                        help="also every file under DIR (repeatable), e.g. gather_legacy.py's")
    parser.add_argument("--only-extra", action="store_true",
                        help="just the --extra folders: no shared data set, no generated archive")
    parser.add_argument("--readers", action="store_true",
                        help="also score each of docflow's .doc, .ppt and .xls readers alone")
    parser.add_argument("--show-files", action="store_true", help="one line per scored file")
    parser.add_argument("--json", type=Path, help="write one row per file here")
    args = parser.parse_args()
    for folder in args.extra:
        if not folder.is_dir():
            console.print(f"[yellow]No folder {folder}; left out.")
    extras = extra_files([folder for folder in args.extra if folder.is_dir()])
    files = [] if args.only_extra else corpus(args.datasets, args.limit_per_format)
    if not files and not extras:
        console.print(f"[yellow]No documents under {args.datasets}; nothing to measure (skipped).")
        return 0
    missing = {kind: tool for kind, tools in TOOLS.items() for tool in tools
               if shutil.which(tool) is None}
    for kind, tool in sorted(missing.items()):
        console.print(f"[yellow]{tool} is not installed: {kind} files are not scored.")
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # as a worker runs OCR
    from dataclasses import replace

    from docflow.config import Settings

    limits = Settings().limits
    if args.no_ocr:  # min_text_chars 0: every page keeps its text layer, none waits for OCR
        limits = replace(limits, ocr=replace(limits.ocr, enabled=False, min_text_chars=0))

    with tempfile.TemporaryDirectory(prefix="docflow-recall-") as temp:
        workdir = Path(temp)
        files += [] if args.only_extra else generated_archives(files, workdir)
        files += extras
        console.print(f"{len(files)} files; reading references ...")
        references = [Reference() for _ in files]
        for host, (_, path) in enumerate(files):
            kind = kind_of(path.name)
            if kind in missing:
                references[host].missing_tool = missing[kind]
            else:
                expand(host, path.name, path.read_bytes(), references[host])
        leaves = [leaf for ref in references for leaf in ref.leaves if leaf.kind not in missing]
        run_tools(leaves, workdir)
        console.print("reading with docflow ...")
        warm = next((p for _, p in files if p.suffix.lower() == ".pdf"), files[0][1])
        with contextlib.suppress(Exception):
            read_with_docflow(warm.name, warm.read_bytes(), limits)  # imports, first-call caches
        rows = []
        for host, (dataset, path) in enumerate(files):
            rows.append(score(dataset, path, references[host],
                              read_with_docflow(path.name, path.read_bytes(), limits)))
            if host % 50 == 49:
                console.print(f"  {host + 1}/{len(files)}")
    extra_sets = {folder.name for folder in args.extra}
    report(rows, args.show_files, extra_sets)
    if args.readers:
        compare_readers(files, references, rows, limits)
    if args.json:
        args.json.write_text(json.dumps([asdict(row) for row in rows], indent=1))
        console.print(f"per-file rows: {args.json}")
    return 0


def score(dataset: str, path: Path, ref: Reference, tree: DocflowTree) -> FileRow:
    kind = kind_of(path.name)
    host_leaf = next((leaf for leaf in ref.leaves if leaf.name == path.name), None)
    reference_ok = not ref.failed and (host_leaf is None or host_leaf.ok)
    if kind is None:
        tool = "none"
    elif ref.missing_tool:
        tool = f"missing {ref.missing_tool}"
    else:
        tool = kind
    reference_words = words("\n".join([*ref.text, *(leaf.text for leaf in ref.leaves)]))
    docflow_words = words("\n".join(tree.text))
    scorable = tool == kind and reference_ok and tree.outcome != "needs_ocr"
    dropped = []
    for archive, members in ref.members.items():
        if tree.outcome == "ok" and archive in tree.archives:
            have = Counter(PurePosixPath(p).name for p in tree.archives[archive])
            want = Counter(PurePosixPath(m).name for m in members)
            dropped += [f"{archive}/{m}" for m in (want - have).elements()]
    return FileRow(
        name=path.name, dataset=dataset, format=format_of(path), outcome=tree.outcome,
        detail=tree.detail, reference=tool, reference_ok=reference_ok,
        reference_detail=ref.failed or (host_leaf.detail if host_leaf else ""),
        reference_words=sum(reference_words.values()),
        docflow_words=sum(docflow_words.values()),
        recall=recall(reference_words, docflow_words) if scorable else None,
        missed=missed_words(reference_words, docflow_words) if scorable else [],
        children=tree.children, child_failures=tree.child_failures, dropped_members=dropped,
        docflow_cpu=tree.cpu, reference_cpu=ref.cpu + sum(leaf.cpu for leaf in ref.leaves),
    )


def report(rows: list[FileRow], show_files: bool, extra_sets: set[str] = frozenset()) -> None:
    """One row per format (a format of an --extra folder apart, named with the folder), then one
    total per --extra folder and one for the rest, then all."""
    by_format: dict[str, list[FileRow]] = defaultdict(list)
    by_set: dict[str, list[FileRow]] = defaultdict(list)
    for row in rows:
        extra = row.dataset in extra_sets
        by_format[f"{row.format} ({row.dataset})" if extra else row.format].append(row)
        by_set[f"all {row.dataset}" if extra else "all shared sets"].append(row)
    table = Table(title=f"docflow text recall against independent readers (files with >= "
                        f"{MIN_WORDS} reference words)")
    for column in ("format", "reference", "files", "scored", "mean recall",
                   f"under {LOW_RECALL} (named)", "docflow failures", "docflow docs/CPU-s",
                   "reference docs/CPU-s"):
        table.add_column(column, justify="right" if "docs" in column or column in
                         ("files", "scored", "mean recall") else "left")
    for name in sorted(by_format, key=lambda f: (-len(by_format[f]), f)):
        table.add_row(*summary(name, by_format[name]))
    table.add_section()
    if len(by_set) > 1:
        for name in sorted(by_set):
            table.add_row(*summary(name, by_set[name]))
    table.add_row(*summary("all", rows), style="bold")
    console.print(table)
    if show_files:
        files = Table(title="per scored file")
        for column in ("file", "outcome", "ref words", "docflow words", "recall", "most missed"):
            files.add_column(column)
        for row in sorted((r for r in rows if r.scored), key=lambda r: r.recall or 0):
            files.add_row(row.name, row.outcome, str(row.reference_words),
                          str(row.docflow_words), f"{row.recall:.3f}", " ".join(row.missed))
        console.print(files)
    goals(rows)


def summary(name: str, rows: list[FileRow]) -> list[str]:
    scored = [r for r in rows if r.scored]
    low = [r.name for r in scored if (r.recall or 0) < LOW_RECALL]
    failures = Counter(r.outcome for r in rows if r.outcome != "ok")
    docflow_cpu = sum(r.docflow_cpu for r in rows)
    refs = [r for r in rows if r.reference not in ("none",) and not r.reference.startswith("miss")]
    reference_cpu = sum(r.reference_cpu for r in refs)
    return [
        name,
        " ".join(sorted({r.reference for r in rows})),
        str(len(rows)),
        str(len(scored)),
        f"{sum(r.recall or 0 for r in scored) / len(scored):.3f}" if scored else "-",
        f"{len(low)}: {', '.join(low)}" if low else "0",
        ", ".join(f"{code} {n}" for code, n in sorted(failures.items())) or "-",
        f"{len(rows) / docflow_cpu:,.1f}" if docflow_cpu else "-",
        f"{len(refs) / reference_cpu:,.1f}" if reference_cpu else "-",
    ]


# Where docflow chains two readers: the first, then the second where the first fails or is empty.
READERS = {"doc": ("piece table", "kreuzberg"), "ppt": ("kreuzberg", "records"),
           "xls": ("xlrd", "kreuzberg")}
READER_OF = {"doc": "doc", "dot": "doc", "ppt": "ppt", "pps": "ppt", "pot": "ppt",
             "xls": "xls", "xlt": "xls"}


def each_reader(family: str, data: bytes, limits: object) -> dict[str, tuple[str, str]]:
    """reader -> (outcome, text) for each of docflow's readers of the family, alone."""
    from docflow.pipeline import DocumentError
    from docflow.pipeline.extract import legacy_doc, legacy_ppt, legacy_xls, spreadsheet
    from docflow.pipeline.extract.office import run_kreuzberg
    from docflow.pipeline.types import DetectedType

    if family == "xls":
        data = legacy_xls.without_default_password(data) or data
        detected = DetectedType("xls", "application/vnd.ms-excel")
        readers = {
            "xlrd": lambda: legacy_xls.xls_text(data),
            "kreuzberg": lambda: spreadsheet.kreuzberg_text(
                data, detected, limits).text,  # type: ignore[arg-type]
        }
    else:
        module = legacy_doc if family == "doc" else legacy_ppt
        own = legacy_doc.doc_text if family == "doc" else legacy_ppt.ppt_text
        readers = {
            "piece table" if family == "doc" else "records": lambda: own(data),
            "kreuzberg": lambda: run_kreuzberg(data, family, module._MIME, module._LABEL,
                                               limits).content,  # type: ignore[arg-type]
        }
    results = {}
    for name, read in readers.items():
        try:
            results[name] = ("ok", read())
        except DocumentError as exc:
            results[name] = (exc.code, "")
        except BaseException as exc:  # noqa: BLE001 - a panic in Rust is a finding here too
            if isinstance(exc, KeyboardInterrupt):
                raise
            results[name] = (f"crash: {type(exc).__name__}", "")
    return results


def compare_readers(files: list[tuple[str, Path]], references: list[Reference],
                    rows: list[FileRow], limits: object) -> None:
    """Which of docflow's two .doc (.ppt, .xls) readers reads each file best; files under
    MIN_WORDS reference words are listed too (legacy slides hold few words)."""
    table = Table(title="which reader wins: recall of each of docflow's readers alone "
                        "(first one listed runs first; the other where it fails or is empty)")
    for column in ("file", "set", "ref words", "first", "second", "docflow (chained)", "winner"):
        table.add_column(column)
    wins: Counter[str] = Counter()
    for (dataset, path), ref, row in zip(files, references, rows, strict=True):
        family = READER_OF.get(row.format)
        if family is None or row.recall is None:  # no reference to score against
            continue
        reference = words("\n".join([*ref.text, *(leaf.text for leaf in ref.leaves)]))
        results = each_reader(family, path.read_bytes(), limits)
        cells, scores = [], {}
        for name in READERS[family]:
            outcome, text = results[name]
            if outcome == "ok":
                scores[name] = recall(reference, words(text))
                cells.append(f"{name} {scores[name]:.3f}")
            else:
                cells.append(f"{name} {outcome}")
        best = max(scores.values(), default=None)
        leaders = [n for n, v in scores.items() if best is not None and v >= best - 0.005]
        winner = "tie" if len(leaders) > 1 else leaders[0] if leaders else "none"
        wins[f"{family}: {winner}"] += 1
        table.add_row(path.name, dataset, str(row.reference_words), *cells,
                      f"{row.recall:.3f}", winner)
    if not wins:
        return
    console.print(table)
    console.print("wins (within 0.005 is a tie): "
                  + ", ".join(f"{k} {v}" for k, v in sorted(wins.items())))


def why_unscored(row: FileRow) -> str:
    if row.reference == "none":
        return f"no reference for .{row.format}"
    if row.reference.startswith("missing"):
        return row.reference
    if not row.reference_ok:
        return f"{row.reference} could not read it"
    if row.outcome == "needs_ocr":
        return "needs OCR"
    return f"under {MIN_WORDS} reference words"


def goals(rows: list[FileRow]) -> None:
    check = {True: "[green]met[/]", False: "[red]NOT met[/]"}
    scored = [r for r in rows if r.scored]
    mean = sum(r.recall or 0 for r in scored) / len(scored) if scored else 0.0
    low = [r for r in scored if (r.recall or 0) < LOW_RECALL]
    console.print(f"Goal: mean recall >= {GOAL_MEAN} over {len(scored)} files with >= "
                  f"{MIN_WORDS} reference words: {check[bool(scored) and mean >= GOAL_MEAN]} "
                  f"({mean:.3f})")
    share = len(low) / len(scored) if scored else 0.0
    console.print(f"Goal: <= {GOAL_LOW_SHARE:.0%} of them under {LOW_RECALL}: "
                  f"{check[share <= GOAL_LOW_SHARE]} ({len(low)}, {share:.1%})")
    for r in low:
        console.print(f"  {r.name}: {r.recall:.3f}, missed {' '.join(r.missed)}")
    archives = [r for r in rows if r.outcome == "ok" and r.dropped_members]
    checked = sum(1 for r in rows if r.format in ("zip", "tar"))
    console.print(f"Goal: no completed document dropped an archive member: "
                  f"{check[not archives]} ({checked} archives checked)")
    for r in archives:
        console.print(f"  {r.name}: {', '.join(r.dropped_members)}")
    # A reference that exits 0 but finds no word (pdftotext on a PDF with no page tree) did
    # not read the file either.
    refused = [r for r in rows if r.outcome in FAILED_READ and r.reference_ok
               and r.reference_words > 0
               and r.reference not in ("none",) and not r.reference.startswith("missing")]
    console.print(f"Goal: nothing the reference reads without a password fails as "
                  f"{'/'.join(FAILED_READ)}: {check[not refused]} ({len(refused)})")
    for r in refused:
        console.print(f"  {r.name}: {r.outcome}: {r.detail}")
    unscored = Counter(why_unscored(r) for r in rows if not r.scored)
    console.print("Not scored: " + ", ".join(f"{why} {n}" for why, n in sorted(unscored.items())))
    crashes = [r for r in rows if r.outcome.startswith("crash")]
    for r in crashes:
        console.print(f"  [red]crash[/] {r.name}: {r.outcome}: {r.detail}")


if __name__ == "__main__":
    sys.exit(main())
