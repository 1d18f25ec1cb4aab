"""XML built to attack parsers (XXE, billion laughs) is never resolved, fetched or expanded."""

from __future__ import annotations

import email.message
import http.server
import io
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from docflow.pipeline import DocumentError, process_document
from tests.fixtures import make_docx
from tests.fixtures_office import make_epub, make_odf, make_pptx, make_xlsx, rewrite_zip

SECRET = "TOP-SECRET-XXE-CONTENT"
LAUGHS = "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
)  # lol9 expands to 10^9 "lol"s


@pytest.fixture
def secret_url(tmp_path: Path) -> str:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    return secret.as_uri()


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A local web server that records every request made to it."""
    requests: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            requests.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(SECRET.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()


W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def docx_with(doctype: str, text: str) -> bytes:
    body = (
        f'<?xml version="1.0"?>{doctype}<w:document {W}><w:body><w:p><w:r><w:t>Before {text} '
        "after</w:t></w:r></w:p></w:body></w:document>"
    )
    return rewrite_zip(make_docx(["x"]), {"word/document.xml": body.encode()})


def odt_with(doctype: str, text: str) -> bytes:
    return make_odf("odt", f"<office:text><text:p>Before {text} after</text:p></office:text>",
                    prolog=doctype)


def pptx_with(doctype: str, text: str) -> bytes:
    pptx = make_pptx([("MARKER", "", "")])
    slide = zipfile.ZipFile(io.BytesIO(pptx)).read("ppt/slides/slide1.xml").decode()
    slide = slide.replace("MARKER", f"Before {text} after", 1)
    slide = slide.replace("?>", "?>" + doctype, 1)
    return rewrite_zip(pptx, {"ppt/slides/slide1.xml": slide.encode()})


def xlsx_with(doctype: str, text: str) -> bytes:
    xlsx = make_xlsx({"Data": [["MARKER"]]})
    strings = zipfile.ZipFile(io.BytesIO(xlsx)).read("xl/sharedStrings.xml").decode()
    strings = strings.replace("MARKER", f"Before {text} after", 1)
    strings = strings.replace("?>", "?>" + doctype, 1)
    return rewrite_zip(xlsx, {"xl/sharedStrings.xml": strings.encode()})


def epub_with(doctype: str, text: str) -> bytes:
    epub = make_epub([("Chapter", "MARKER")])
    chapter = zipfile.ZipFile(io.BytesIO(epub)).read("c0.xhtml").decode()
    chapter = chapter.replace("MARKER", f"Before {text} after").replace("?>", "?>" + doctype, 1)
    return rewrite_zip(epub, {"c0.xhtml": chapter.encode()})


def html_with(doctype: str, text: str) -> bytes:
    return f"{doctype}<html><body><p>Before {text} after</p></body></html>".encode()


def xml_with(doctype: str, text: str) -> bytes:
    return f'<?xml version="1.0"?>{doctype}<note>Before {text} after</note>'.encode()


def eml_with(doctype: str, text: str) -> bytes:
    message = email.message.EmailMessage()
    message["Subject"] = "Hello"
    message.set_content(f"{doctype}<html><body><p>Before {text} after</p></body></html>",
                        subtype="html")
    return message.as_bytes()


CARRIERS: dict[str, tuple[Callable[[str, str], bytes], str]] = {
    "docx": (docx_with, "a.docx"),
    "odt": (odt_with, "a.odt"),
    "pptx": (pptx_with, "a.pptx"),
    "xlsx": (xlsx_with, "a.xlsx"),
    "epub": (epub_with, "a.epub"),
    "html": (html_with, "a.html"),
    "xml": (xml_with, "a.xml"),
    "eml": (eml_with, "a.eml"),
}


def text_or_code(data: bytes, filename: str) -> str:
    try:
        return process_document(data, filename).extracted.text
    except DocumentError as error:
        assert error.code in {"corrupt", "empty"}, error.code
        return error.code


@pytest.mark.parametrize("carrier", list(CARRIERS))
def test_external_entities_are_never_read_or_fetched(
    carrier: str, secret_url: str, listener: tuple[str, list[str]]
) -> None:
    url, requests = listener
    make, filename = CARRIERS[carrier]
    doctype = (
        f'<!DOCTYPE root SYSTEM "{url}/external.dtd" [<!ENTITY file SYSTEM "{secret_url}">'
        f'<!ENTITY web SYSTEM "{url}/entity"><!ENTITY % remote SYSTEM "{url}/param">%remote;]>'
    )
    result = text_or_code(make(doctype, "&file;&web;"), filename)
    assert SECRET not in result
    assert requests == []


@pytest.mark.parametrize("carrier", list(CARRIERS))
def test_billion_laughs_is_never_expanded(carrier: str) -> None:
    make, filename = CARRIERS[carrier]
    started = time.process_time()
    result = text_or_code(make(f"<!DOCTYPE root [{LAUGHS}]>", "&lol9;"), filename)
    assert time.process_time() - started < 5
    assert result.count("lol") < 1000
