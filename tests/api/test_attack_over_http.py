"""The attacker's requests of docflow issue 11, sent over HTTP to the API in its own process (as
`docflow serve` runs it): each gets a JSON answer, and the process is still there afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from docflow.broker import free_port
from docflow.config import Settings
from docflow.search import SearchDocument, open_index


@pytest.fixture
def api_process(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    index = open_index("tantivy", settings.index_dir, writer=True)
    index.index([SearchDocument("d1", "a.txt", "letter", "b1", "a hello world")])
    index.close()
    port = free_port()
    env = {**os.environ, "DOCFLOW_DATA_DIR": str(settings.data_dir),
           "DOCFLOW_MIN_FREE_DISK_BYTES": "0", "DOCFLOW_MAX_BATCH_FILES": "3",
           "PYTHONPATH": os.pathsep.join(sys.path)}
    log = (tmp_path / "api.out").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory",
                                "docflow.api.app:create_app", "--host", "127.0.0.1",
                                "--port", str(port), "--log-level", "warning"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, (tmp_path / "api.out").read_text()
        try:
            if httpx.get(f"{url}/api/limits", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.1)
    yield url, process
    process.terminate()
    process.wait(30)
    log.close()


def test_the_attack_of_issue_11_gets_json_answers_and_the_api_lives(api_process) -> None:
    url, process = api_process
    boundary = "b" * 300
    attacks = [
        ("GET", "/api/search?q=a&offset=1000000000000", {}),
        ("GET", "/api/documents?offset=9999999999999999999", {}),
        ("GET", "/api/search?q=text:*", {}),
        ("GET", "/api/search?q=id:*", {}),
        ("GET", "/api/search?q=sha256:*", {}),
        ("POST", "/api/upload", {"content": f"--{boundary}\r\n".encode(), "headers": {
            "content-type": f"multipart/form-data; boundary={boundary}"}}),
        ("POST", "/api/batch-upload", {"files": [
            ("files", (f"{n}.txt", b"x", "text/plain")) for n in range(4)]}),
    ]
    with httpx.Client(base_url=url, timeout=60) as client:
        for method, path, kwargs in attacks:
            r = client.request(method, path, **kwargs)
            assert r.status_code < 500, (path, r.status_code, r.text)
            assert r.headers["content-type"] == "application/json", path
        assert process.poll() is None  # nothing took the process down
        assert client.get("/api/search", params={"q": "hello"}).json()["total"] == 1
