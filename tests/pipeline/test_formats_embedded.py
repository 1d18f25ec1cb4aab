"""Files embedded in Word, Excel and PowerPoint documents become child documents: Office files
as they are, OLE "Package" objects with their own names, Acrobat objects as PDFs."""

from __future__ import annotations

import struct

from docflow.pipeline import Limits, detect, extract, process_document
from tests.fixtures import make_docx, make_ole2, make_pdf
from tests.fixtures_office import make_pptx, make_xlsx, rewrite_zip

LIMITS = Limits()


def ole10_native(filename: str, data: bytes) -> bytes:
    """The stream Windows' Object Packager writes for a file dragged into a document."""
    temp = f"C:\\Temp\\{filename}\0".encode("latin-1")
    body = (struct.pack("<H", 2) + filename.encode("latin-1") + b"\0"
            + f"C:\\Users\\ann\\{filename}".encode("latin-1") + b"\0"
            + struct.pack("<I", 0x00030000) + struct.pack("<I", len(temp)) + temp
            + struct.pack("<I", len(data)) + data)
    # make_ole2 writes no mini stream: a stream must be at least 4 KiB; the packager's own
    # sizes say where the file ends.
    return (struct.pack("<I", len(body)) + body).ljust(4096, b"\0")


def test_a_word_document_gives_its_embedded_files_as_children() -> None:
    sheet = make_xlsx({"Budget": [["Item", "Cost"], ["Paper", 12]]})
    pdf = make_pdf(["Signed contract. " * 300])  # over 4 KiB, as make_ole2 needs
    docx = rewrite_zip(make_docx(["See the attached budget."]), {
        "word/embeddings/Microsoft_Excel_Worksheet.xlsx": sheet,
        "word/embeddings/oleObject1.bin": make_ole2(
            {"\x01Ole10Native": ole10_native("notes.txt", b"Dear Ann, the notes.")}),
        "word/embeddings/oleObject2.bin": make_ole2({"CONTENTS": pdf}),
        "word/embeddings/oleObject3.bin": make_ole2({"Mystery": b"what is this" * 400}),
    })
    extracted = extract(docx, detect(docx, "memo.docx", LIMITS), LIMITS)
    assert "See the attached budget." in extracted.text
    assert [(c.filename, c.path) for c in extracted.children] == [
        ("Microsoft_Excel_Worksheet.xlsx", "embedded/Microsoft_Excel_Worksheet.xlsx"),
        ("notes.txt", "embedded/notes.txt"),
        ("embedded.pdf", "embedded/embedded.pdf"),
    ]
    assert extracted.children[0].data == sheet
    assert extracted.children[1].data == b"Dear Ann, the notes."
    assert extracted.children[2].data == pdf
    assert any("oleObject3.bin" in w for w in extracted.skipped)


def test_a_97_2003_object_stays_whole_and_a_damaged_one_never_fails_the_host() -> None:
    legacy = make_ole2({"WordDocument": b"\x00" * 4096})
    pptx = rewrite_zip(make_pptx([("Plan", "Q3 goals", "")]), {
        "ppt/embeddings/oleObject1.bin": legacy,
        "ppt/embeddings/oleObject2.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 truncated",
    })
    result = process_document(pptx, "plan.pptx", LIMITS)
    assert "Q3 goals" in result.extracted.text
    assert [c.data for c in result.children] == [legacy]
    assert any("oleObject2.bin" in w for w in result.extracted.skipped)
    assert [w.code for w in result.warnings] == ["partial"]
    assert "oleObject2.bin" in result.warnings[0].message


def test_a_document_without_embeddings_has_no_children() -> None:
    docx = make_docx(["Plain memo"])
    assert extract(docx, detect(docx, "memo.docx", LIMITS), LIMITS).children == []
