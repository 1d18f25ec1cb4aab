"""The upload client against the real API over real HTTP: every file once, whatever happens
between the two (reruns, a lost checkpoint, dropped connections, a server that is down)."""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections import Counter
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from docflow.client import (
    Checkpoint,
    DocflowApi,
    RetryPolicy,
    Uploader,
    UploadOptions,
    UploadSummary,
    run_upload,
)
from docflow.client.report import print_summary
from tests.client.conftest import ApiServer, make_tree
from tests.client.flaky_proxy import FlakyProxy, http_answer

FAST_RETRIES = RetryPolicy(attempts=8, base_delay=0.01, max_delay=0.1)


def _upload(options: UploadOptions, url: str | None = None,
            policy: RetryPolicy = FAST_RETRIES) -> UploadSummary:
    assert options.checkpoint is not None

    async def go() -> UploadSummary:
        api = DocflowApi(url or options.url, policy=policy, timeout=10)
        checkpoint = Checkpoint(options.checkpoint, options.directory, options.url)
        try:
            return await Uploader(options, checkpoint, api).run()
        finally:
            checkpoint.close()
            await api.aclose()

    return asyncio.run(go())


def _options(tmp_path: Path, url: str, **kw: object) -> UploadOptions:
    base: dict[str, object] = dict(directory=tmp_path / "corpus", url=url, batch_size=40,
                                   concurrency=4, request_files=7,
                                   checkpoint=tmp_path / "upload.sqlite",
                                   batch_ids_out=tmp_path / "batch_ids.json")
    base.update(kw)
    return UploadOptions(**base)  # type: ignore[arg-type]


def _documents(url: str) -> list[dict]:
    docs: list[dict] = []
    params: dict[str, object] = {"limit": 1000}
    while True:  # page by cursor, as clients should
        page = httpx.get(f"{url}/api/documents", params=params).json()
        docs += page["documents"]
        if page["next_cursor"] is None:
            return docs
        params["cursor"] = page["next_cursor"]


def _assert_each_file_once(url: str, files: list[Path]) -> None:
    names = Counter(d["filename"] for d in _documents(url))
    assert sum(names.values()) == len(files)
    assert names == Counter(p.name for p in files)


def test_a_folder_arrives_in_batches_each_file_once(tmp_path: Path, api: ApiServer) -> None:
    files = make_tree(tmp_path / "corpus", 100)
    summary = _upload(_options(tmp_path, api.url))
    assert (summary.found, summary.uploaded, summary.already_uploaded, summary.failed) == \
        (100, 100, 0, 0)
    assert summary.stopped is None and summary.sent_bytes == sum(p.stat().st_size
                                                                 for p in files)
    _assert_each_file_once(api.url, files)
    counts = [httpx.get(f"{api.url}/api/batches/{b}").json()["document_count"]
              for b in summary.batch_ids]
    assert counts == [40, 40, 20]
    totals = [httpx.get(f"{api.url}/api/batch-status/{b}").json()["total"]
              for b in summary.batch_ids]
    assert totals == counts


def test_the_server_keeps_each_files_path_in_the_folder(tmp_path: Path, api: ApiServer) -> None:
    """500,000 archived files repeat their names ("2019/invoice.pdf", "2020/invoice.pdf"): on
    the server each keeps the path it has under the uploaded folder, and a folder filters."""
    corpus = tmp_path / "corpus"
    rels = ["2019/invoice.pdf", "2020/invoice.pdf", "2020/q1/invoice.pdf", "root.txt",
            'Kunden/M\u00fcller & S\u00f6hne/"Angebot" 100%.txt', "with space/a b.txt"]
    for i, rel in enumerate(rels):
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        (corpus / rel).write_text(f"file {i}")
    summary = _upload(_options(tmp_path, api.url))
    assert (summary.uploaded, summary.failed) == (len(rels), 0)
    docs = _documents(api.url)
    assert sorted(d["source_path"] for d in docs) == sorted(rels)
    assert all(d["filename"] == d["source_path"].rsplit("/", 1)[-1] for d in docs)
    in_2020 = httpx.get(f"{api.url}/api/documents", params={"path_prefix": "2020/"}).json()
    assert sorted(d["source_path"] for d in in_2020["documents"]) == [
        "2020/invoice.pdf", "2020/q1/invoice.pdf"]


def test_a_rerun_sends_nothing_and_a_lost_checkpoint_creates_nothing(
        tmp_path: Path, api: ApiServer) -> None:
    files = make_tree(tmp_path / "corpus", 60)
    first = _upload(_options(tmp_path, api.url))
    again = _upload(_options(tmp_path, api.url))
    assert (again.uploaded, again.already_uploaded, again.sent_files) == (0, 60, 0)
    assert again.batch_ids == first.batch_ids
    # Without its checkpoint the client sends every file again; the server knows each key.
    (tmp_path / "upload.sqlite").unlink()
    fresh = _upload(_options(tmp_path, api.url))
    assert (fresh.uploaded, fresh.already_uploaded, fresh.sent_files) == (0, 60, 60)
    _assert_each_file_once(api.url, files)


def test_a_changed_file_is_sent_again_and_a_touched_one_is_not(
        tmp_path: Path, api: ApiServer) -> None:
    files = make_tree(tmp_path / "corpus", 10)
    _upload(_options(tmp_path, api.url))
    files[0].write_text("a new version")
    os.utime(files[1], ns=(files[1].stat().st_atime_ns, files[1].stat().st_mtime_ns + 10**9))
    summary = _upload(_options(tmp_path, api.url))
    assert (summary.uploaded, summary.already_uploaded) == (1, 9)
    assert len(_documents(api.url)) == 11


def test_include_and_exclude_choose_the_files(tmp_path: Path, api: ApiServer) -> None:
    make_tree(tmp_path / "corpus", 20)
    (tmp_path / "corpus" / "scan.pdf").write_bytes(b"%PDF-1.4 not really")
    (tmp_path / "corpus" / ".git").mkdir()
    (tmp_path / "corpus" / ".git" / "config.pdf").write_bytes(b"%PDF-1.4 no")
    summary = _upload(_options(tmp_path, api.url, include=("*.pdf",), exclude=(".git",)))
    assert summary.found == 1 and summary.uploaded == 1
    assert [d["filename"] for d in _documents(api.url)] == ["scan.pdf"]


def test_a_file_over_the_limit_fails_alone_with_its_reason(tmp_path: Path,
                                                           api: ApiServer) -> None:
    files = make_tree(tmp_path / "corpus", 12)
    big = tmp_path / "corpus" / "big.bin"
    big.write_bytes(b"x" * 60_000)  # the server takes 50,000 bytes
    summary = _upload(_options(tmp_path, api.url))
    assert (summary.uploaded, summary.failed) == (12, 1)
    (failure,) = summary.failures
    assert failure.path == "big.bin" and failure.code == "too_large"
    assert "50,000" in failure.message
    _assert_each_file_once(api.url, files)


def test_dropped_connections_and_lost_answers_still_give_each_file_once(
        tmp_path: Path, api: ApiServer) -> None:
    files = make_tree(tmp_path / "corpus", 300)
    proxy = FlakyProxy(api.port, drop_rate=0.05, seed=11).start()
    try:
        summary = _upload(_options(tmp_path, proxy.url, request_files=3), url=proxy.url)
    finally:
        proxy.stop()
    assert proxy.dropped_before > 0 and proxy.dropped_after > 0, vars(proxy)
    assert summary.failed == 0 and summary.retries >= proxy.dropped_before
    assert summary.uploaded + summary.already_uploaded == 300
    _assert_each_file_once(api.url, files)
    counts = sum(httpx.get(f"{api.url}/api/batches/{b}").json()["document_count"]
                 for b in summary.batch_ids)
    assert counts == 300


def _batch_counts(url: str, batch_ids: list[str]) -> list[int]:
    return [httpx.get(f"{url}/api/batches/{b}").json()["document_count"] for b in batch_ids]


def test_a_run_stopped_mid_batch_resumes_into_full_batches(tmp_path: Path,
                                                           api: ApiServer) -> None:
    files = make_tree(tmp_path / "corpus", 100)
    # The server goes away a few requests in: the run stops inside the first batch, with the
    # other batches already planned.
    proxy = FlakyProxy(api.port, drop_rate=0, down_after=5).start()
    try:
        first = _upload(_options(tmp_path, api.url), url=proxy.url)
    finally:
        proxy.stop()
    assert first.stopped, vars(first)
    assert 0 < len(_documents(api.url)) < 40
    again = _upload(_options(tmp_path, api.url))
    assert again.stopped is None and again.failed == 0
    _assert_each_file_once(api.url, files)
    assert _batch_counts(api.url, again.batch_ids) == [40, 40, 20]


def test_busy_answers_are_waited_out_and_each_file_arrives_once(tmp_path: Path,
                                                               api: ApiServer) -> None:
    files = make_tree(tmp_path / "corpus", 90)
    # A busy load balancer: 503, 429 and 522 with Retry-After, some after the server did the
    # work (its answer replaced), some before it saw the request.
    proxy = FlakyProxy(api.port, drop_rate=0, error_rate=0.15, seed=4,
                       error_statuses=(503, 429, 522), retry_after="1").start()
    try:
        summary = _upload(_options(tmp_path, api.url, request_files=3), url=proxy.url)
    finally:
        proxy.stop()
    assert proxy.errors_before > 0 and proxy.errors_after > 0, vars(proxy)
    assert set(proxy.error_answers) == {503, 429, 522}, proxy.error_answers
    assert summary.stopped is None and summary.failed == 0
    assert summary.retries >= len(proxy.error_answers)
    assert summary.elapsed >= 1.0  # Retry-After: 1 was waited out
    assert summary.uploaded + summary.already_uploaded == 90
    _assert_each_file_once(api.url, files)
    assert _batch_counts(api.url, summary.batch_ids) == [40, 40, 10]


def test_a_file_the_server_keeps_failing_on_is_reported_and_the_others_arrive(
        tmp_path: Path, api: ApiServer) -> None:
    files = make_tree(tmp_path / "corpus", 30)
    (tmp_path / "corpus" / "d000" / "poison.txt").write_text("the server fails on this one")
    proxy = FlakyProxy(api.port, drop_rate=0, answer_when=(
        b'filename="d000/poison.txt"', http_answer(500, b"Internal Server Error"))).start()
    try:
        summary = _upload(_options(tmp_path, api.url, request_files=5), url=proxy.url,
                          policy=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05))
    finally:
        proxy.stop()
    # Its request of five was tried 3 times, then each of the five alone: it 3 times more.
    assert proxy.answered == 6
    assert summary.stopped is None
    assert (summary.found, summary.uploaded, summary.failed) == (31, 30, 1)
    (failure,) = summary.failures
    assert (failure.path, failure.code) == ("d000/poison.txt", "http_500")
    assert "500 Internal Server Error" in failure.message
    _assert_each_file_once(api.url, files)
    out = io.StringIO()
    print_summary(Console(file=out, width=200), summary, tmp_path / "batch_ids.json")
    assert "d000/poison.txt" in out.getvalue() and "http_500" in out.getvalue()


def test_an_entry_that_cannot_be_read_is_counted_found_and_failed(
        tmp_path: Path, api: ApiServer, capsys: pytest.CaptureFixture[str]) -> None:
    files = make_tree(tmp_path / "corpus", 10)
    os.symlink("loop", tmp_path / "corpus" / "loop")  # reading it fails: ELOOP
    code = run_upload(_options(tmp_path, api.url), Console(width=160, force_terminal=False))
    assert code == 1
    saved = json.loads((tmp_path / "batch_ids.json").read_text())
    counts = saved["summary"]
    assert (counts["total_files"], counts["uploaded"], counts["failed"]) == (11, 10, 1)
    assert [(f["path"], f["code"]) for f in saved["failed"]] == [("loop", "unreadable")]
    assert "do not add up" not in capsys.readouterr().out
    _assert_each_file_once(api.url, files)


PORTAL = http_answer(200, b"<html><body>Log in to the hotel Wi-Fi</body></html>",
                     "text/html; charset=utf-8")
NOT_DOCFLOW = "answered 200 with text/html, not docflow's JSON: is --url right?"


def test_a_page_answered_for_one_file_fails_that_file_and_the_run_goes_on(
        tmp_path: Path, api: ApiServer) -> None:
    files = make_tree(tmp_path / "corpus", 12)
    (tmp_path / "corpus" / "d000" / "portal.txt").write_text("answered by a proxy's page")
    proxy = FlakyProxy(api.port, drop_rate=0,
                       answer_when=(b'filename="d000/portal.txt"', PORTAL)).start()
    try:
        summary = _upload(_options(tmp_path, api.url, request_files=1), url=proxy.url,
                          policy=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05))
    finally:
        proxy.stop()
    assert proxy.answered == 3  # retried, as a proxy may pass the next try through
    assert summary.stopped is None
    assert (summary.found, summary.uploaded, summary.failed) == (13, 12, 1)
    (failure,) = summary.failures
    assert (failure.path, failure.code) == ("d000/portal.txt", "unexpected_answer")
    assert failure.message == f"The server at {proxy.url} {NOT_DOCFLOW}"
    _assert_each_file_once(api.url, files)


def test_a_captive_portal_ends_the_run_cleanly_with_its_reason(
        tmp_path: Path, api: ApiServer, capsys: pytest.CaptureFixture[str]) -> None:
    make_tree(tmp_path / "corpus", 5)
    proxy = FlakyProxy(api.port, drop_rate=0, answer_when=(b"", PORTAL)).start()
    try:
        options = _options(tmp_path, proxy.url,
                           retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05))
        code = run_upload(options, Console(width=300, force_terminal=False))
    finally:
        proxy.stop()
    assert code == 1
    assert NOT_DOCFLOW in capsys.readouterr().out
    saved = json.loads((tmp_path / "batch_ids.json").read_text())
    assert NOT_DOCFLOW in saved["summary"]["stopped"] and saved["batch_ids"] == []
    assert _documents(api.url) == []


def test_a_server_that_is_down_stops_the_run_with_a_clear_reason(tmp_path: Path) -> None:
    make_tree(tmp_path / "corpus", 5)
    summary = _upload(_options(tmp_path, "http://127.0.0.1:9"),
                      policy=RetryPolicy(attempts=2, base_delay=0.01))
    assert summary.stopped and "Cannot reach docflow at http://127.0.0.1:9" in summary.stopped
    assert summary.uploaded == 0


def test_the_command_prints_a_summary_and_writes_the_batch_ids(
        tmp_path: Path, api: ApiServer, capsys: pytest.CaptureFixture[str]) -> None:
    make_tree(tmp_path / "corpus", 30)
    (tmp_path / "corpus" / "big.bin").write_bytes(b"x" * 60_000)
    options = _options(tmp_path, api.url, token="s3cret")
    code = run_upload(options, Console(width=120, force_terminal=False), monitor=False)
    out = capsys.readouterr().out
    assert code == 1  # one file failed
    for words in ("total files", "31", "uploaded", "30", "failed", "too_large", "files/s",
                  "MB/s", "time elapsed"):
        assert words in out, out
    saved = json.loads((tmp_path / "batch_ids.json").read_text())
    assert saved["url"] == api.url and len(saved["batch_ids"]) == 1
    assert saved["summary"]["uploaded"] == 30 and saved["failed"][0]["path"] == "big.bin"
