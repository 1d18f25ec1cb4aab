"""Every document is bounded in memory: a PDF whose content inflates to hundreds of MB is
refused as a decompression bomb before PDFium reads it, and whatever else grows a worker
process past `max_document_memory_mb` fails its document as too_large and replaces the process."""

from __future__ import annotations

import resource
import threading
import time

import pytest

from docflow import pipeline
from docflow.pipeline.errors import DecompressionBomb
from docflow.pipeline.types import Limits
from docflow.worker.memory import EXIT_CODE, MemoryGuard, watchdog
from tests.pdf_bombs import pdf_with_content

MB = 1024 * 1024


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return pdf_with_content(300 * MB)  # ~300 KB on disk


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_pdf_whose_content_inflates_to_300_mb_is_refused_in_bounded_memory(
        bomb: bytes) -> None:
    assert len(bomb) < 1 * MB
    before = _peak_mb()
    with pytest.raises(DecompressionBomb, match="decompression bomb") as caught:
        pipeline.process_document(bomb, "bomb.pdf", Limits(max_unpacked_bytes=64 * MB))
    assert caught.value.code == "decompression_bomb"
    assert _peak_mb() - before < 100  # PDFium would hold the 300 MB stream, and more


def test_an_ordinary_pdf_with_compressed_pages_is_still_read() -> None:
    from docflow.demo import make_pdf

    pdf = make_pdf(["INVOICE  Invoice number 2024-77", "Total due: $1,250.00"])
    result = pipeline.process_document(pdf, "inv.pdf", Limits(max_unpacked_bytes=64 * MB))
    assert "Invoice number 2024-77" in result.extracted.text
    # A large stream under the limit is measured and let through.
    big = pdf_with_content(32 * MB, b"0 0 m\n")
    # A page of paths and no text: read, with a no_text warning; not a bomb.
    drawn = pipeline.process_document(big, "paths.pdf", Limits(max_unpacked_bytes=64 * MB))
    assert [w.code for w in drawn.warnings] == ["no_text"]


def test_past_the_limit_the_guard_records_the_failure_then_ends_the_process() -> None:
    readings = iter([100.0, 150.0, 3000.0])
    recorded: list[float] = []
    exits: list[int] = []
    with MemoryGuard(2048, recorded.append, sample_seconds=0.001,
                     resident_mb=lambda: next(readings, 3000.0), exit=exits.append) as guard:
        assert guard.acted.wait(30)  # the watch ends once it has acted
    assert recorded == [3000.0] and exits == [EXIT_CODE]


def test_under_the_limit_or_switched_off_the_guard_does_nothing() -> None:
    exits: list[int] = []
    with MemoryGuard(2048, lambda _: None, sample_seconds=0.001, resident_mb=lambda: 100.0,
                     exit=exits.append):
        pass
    # A process that held much before the document (a long-lived one) is judged by what the
    # document adds, not by what it held.
    samples: list[float] = []
    sampled = threading.Event()

    def resident() -> float:
        samples.append(2500.0 if not samples else 2600.0)
        if len(samples) >= 5:
            sampled.set()
        return samples[-1]

    with MemoryGuard(2048, lambda _: None, sample_seconds=0.001, resident_mb=resident,
                     exit=exits.append):
        assert sampled.wait(30)
    with MemoryGuard(0, lambda _: None, resident_mb=lambda: 1e9, exit=exits.append) as off:
        assert not off.watching
    assert exits == []


def test_one_thread_watches_every_document_of_a_process() -> None:
    # A thread started per document cost more than a small document's reading.
    for _ in range(50):
        with MemoryGuard(2048, lambda _: None, sample_seconds=0.001, resident_mb=lambda: 100.0):
            pass
    watchers = [t for t in threading.enumerate() if t.name == "document-watchdog"]
    assert len(watchers) == 1


def test_a_document_past_its_own_time_limits_is_interrupted_then_failed_and_the_process_ended(
        ) -> None:
    from docflow.worker.memory import TimeLimits

    interrupted, recorded, exits = threading.Event(), threading.Event(), []
    limits = TimeLimits(soft_seconds=0.01, on_soft=interrupted.set, hard_seconds=0.02,
                        on_hard=recorded.set)
    with MemoryGuard(2048, lambda _: None, resident_mb=lambda: 100.0, exit=exits.append,
                     limits=limits) as guard:
        assert interrupted.wait(30)  # the soft limit asks the reading to stop
        assert guard.acted.wait(30)  # still going at the hard limit: recorded, then the end
    assert recorded.is_set() and exits == [EXIT_CODE]


def test_a_watch_that_raises_does_not_stop_the_watchdog_for_the_next_documents() -> None:
    calls: list[int] = []

    def broken() -> float:  # the baseline is read; the first sample raises
        calls.append(1)
        if len(calls) > 1:
            raise OSError("no /proc here")
        return 100.0

    first = MemoryGuard(2048, lambda _: None, sample_seconds=0.001, resident_mb=broken)
    with first:
        dog = watchdog()
        while first._watch in dog._watches and dog.thread is not None and dog.thread.is_alive():
            time.sleep(0.001)  # until the watchdog has met the error
    exits: list[int] = []
    readings = iter([100.0, 3000.0])
    with MemoryGuard(2048, lambda _: None, sample_seconds=0.001,
                     resident_mb=lambda: next(readings, 3000.0), exit=exits.append) as guard:
        assert guard.acted.wait(30)
    assert exits == [EXIT_CODE]
