"""Reader scaling: CPU time of docflow's own readers on hostile shapes from 1 KB to 8 MB.

    .venv/bin/python bench/reader_scaling.py [--max-kb 8192] [--shapes rtf-cells,doc-fields,...]

Each shape is an input built to make a reader repeat work (a run of RTF cells that becomes a
line of tabs, Word fields each opened and separated, an OLE2 directory of thousands of
streams, a deck listing one slide over and over, ...), read through `detect` + `extract`
(or the one function concerned) at 1 KB, 8 KB, 64 KB, 512 KB, 2 MB and 8 MB. The table gives
CPU seconds per size and, against the baseline measured in the same run, the per-byte cost
at the largest size over that at 64 KB: a linear reader stays near 1x, a quadratic one grows
with the size (128x from 64 KB to 8 MB). The OLE2 directory stops growing at 13,000 streams
(1.6 MB). A size whose read takes more than --budget-s ends the shape's row (a quadratic reader
would take hours at 8 MB).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from docflow.pipeline import Limits, detect, extract  # noqa: E402
from docflow.pipeline.extract import clean_text, legacy_doc  # noqa: E402
from docflow.pipeline.ole2 import ole2_kind  # noqa: E402

LIMITS = Limits()
_BASELINE = 64 * 1024  # below this, fixed costs blur the per-byte figure
_P = ('xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" '
      'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
      'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


def read_as(name: str) -> Callable[[bytes], object]:
    return lambda data: extract(data, detect(data, name, LIMITS), LIMITS)


def rtf(body: bytes, size: int) -> bytes:
    return b"{\\rtf1\\ansi " + body * max(1, size // len(body)) + b"}"


def deck(size: int) -> bytes:
    count = max(1, size // 80)
    listed = "".join(f'<p:sldId id="{256 + n}" r:id="rS"/>' for n in range(count))
    shape = "<p:sp><p:txBody><a:p><a:r><a:t>plan</a:t></a:r></a:p></p:txBody></p:sp>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in {
            "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/ppt/presentation.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/></Types>',
            "_rels/.rels": _rels("rId1", "officeDocument", "ppt/presentation.xml"),
            "ppt/presentation.xml": f"<p:presentation {_P}><p:sldIdLst>{listed}</p:sldIdLst>"
                                    "</p:presentation>",
            "ppt/_rels/presentation.xml.rels": _rels("rS", "slide", "slides/slide1.xml"),
            "ppt/slides/slide1.xml": f"<p:sld {_P}><p:cSld><p:spTree>{shape * count}"
                                     "</p:spTree></p:cSld></p:sld>",
        }.items():
            archive.writestr(name, text)
    return out.getvalue()


def _rels(rid: str, kind: str, target: str) -> str:
    return ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="{rid}" Type="{_REL}{kind}" Target="{target}"/></Relationships>')


def wide_ole2(size: int) -> bytes:
    from tests.fixtures_ole2 import make_wide_compound_file

    return make_wide_compound_file(max(2, min(size // 128, 13_000)))


# shape: (how it is read, how an input of about `size` bytes is made)
SHAPES: dict[str, tuple[Callable[[object], object], Callable[[int], object]]] = {
    "rtf-text": (read_as("a.rtf"), lambda n: rtf(b"plain words here ", n)),
    "rtf-cells": (read_as("a.rtf"),  # a row of empty cells between two words: a run of tabs
                  lambda n: b"{\\rtf1\\ansi A" + b"\\cell " * (n // 6) + b"B\\row}"),
    "rtf-formatting": (read_as("a.rtf"), lambda n: rtf(b"\\b\\i0\\fs22 x", n)),
    "rtf-nested-groups": (read_as("a.rtf"), lambda n: b"{\\rtf1 " + b"{" * n + b"x" + b"}" * n),
    "rtf-unclosed-groups": (read_as("a.rtf"), lambda n: b"{\\rtf1 " + b"{a" * (n // 2)),
    "rtf-unicode": (read_as("a.rtf"), lambda n: rtf(b"\\u1055?", n)),
    "rtf-hex": (read_as("a.rtf"), lambda n: rtf(b"\\'e9", n)),
    "rtf-bin": (read_as("a.rtf"), lambda n: rtf(b"\\bin4 {}{}", n)),
    "rtf-picture": (read_as("a.rtf"), lambda n: rtf(b"{\\pict\\wmetafile8 0123456789abcdef}", n)),
    "text-spaces": (clean_text, lambda n: "a" + " " * n + "b\n"),
    "doc-fields": (legacy_doc._clean, lambda n: "\x13\x14" * (n // 2) + "x"),
    "ole2-streams": (ole2_kind, wide_ole2),
    "pptx-repeated-slide": (read_as("a.pptx"), deck),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-kb", type=int, default=8192)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--budget-s", type=float, default=60.0)
    args = parser.parse_args()
    sizes = [kb * 1024 for kb in (1, 8, 64, 512, 2048, 8192) if kb <= args.max_kb]
    table = Table(title="CPU seconds per input size; per-byte cost over that at 64 KB")
    table.add_column("shape")
    for size in sizes:
        table.add_column(f"{size // 1024:,} KB", justify="right")
    table.add_column("per byte, largest / 64 KB", justify="right")
    for name in args.shapes.split(","):
        read, make = SHAPES[name]
        cells: list[str] = []
        per_byte: dict[int, float] = {}
        for size in sizes:
            data = make(size)
            started = time.process_time()
            try:
                read(data)
            except Exception as exc:  # a DocumentError is an outcome like any other here
                note = type(exc).__name__
            else:
                note = ""
            seconds = time.process_time() - started
            per_byte[size] = seconds / max(len(data), 1)
            cells.append(f"{seconds:.3f}" + (f" ({note})" if note else ""))
            if seconds > args.budget_s:
                break
        cells += ["-"] * (len(sizes) - len(cells))
        largest = max(per_byte)
        base = per_byte.get(_BASELINE, 0)
        growth = per_byte[largest] / base if base else 0
        table.add_row(name, *cells, f"{growth:.1f}x")
    Console(width=200).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
