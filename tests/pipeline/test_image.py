"""Images are read by OCR: every common format, TIFF pages in order, small images scaled up,
and hostile or broken files refused with a reason before they cost memory."""

from __future__ import annotations

import io
import struct
import time
import tracemalloc

import pytest
from PIL import Image

from docflow.pipeline import (
    CorruptDocument,
    DetectedType,
    DocumentTooLarge,
    Limits,
    TooManyPages,
    detect,
    extract,
    process_document,
)
from docflow.pipeline.extract import image as image_module
from docflow.pipeline.extract.image import text_line_height, upscale_factor
from docflow.pipeline.ocr import ocr_image
from docflow.pipeline.textsize import ocr_scale
from tests.scans import CONTRACT_LINES, image_bytes, png_header, text_image

LINES = ["Receipt 2024-03-12", "Total: 42.50 EUR"]
TEXT = "\n".join(LINES)


def read(data: bytes, filename: str, limits: Limits = Limits()):
    return extract(data, detect(data, filename, limits), limits)


@pytest.mark.parametrize(
    ("fmt", "filename", "options"),
    [
        ("PNG", "receipt.png", {}),
        ("JPEG", "receipt.jpg", {"quality": 90}),
        ("TIFF", "receipt.tif", {"compression": "tiff_lzw"}),
        ("BMP", "receipt.bmp", {}),
        ("WEBP", "receipt.webp", {"quality": 90}),
        ("GIF", "receipt.gif", {}),
    ],
)
def test_each_image_format_is_read_by_ocr(fmt: str, filename: str, options: dict) -> None:
    extracted = read(image_bytes(text_image(LINES), fmt, **options), filename)
    assert extracted.text == TEXT
    assert extracted.ocr_pages == [True]
    assert extracted.ocr_confidence > 0.8


def test_a_multi_page_tiff_gives_one_page_per_frame_in_order() -> None:
    frames = [text_image([f"Page {word} of the fax"]) for word in ("one", "two", "three")]
    extracted = read(image_bytes(frames, "TIFF"), "fax.tiff")
    assert extracted.pages == [
        "Page one of the fax", "Page two of the fax", "Page three of the fax"
    ]
    assert extracted.ocr_pages == [True, True, True]


def test_a_tiff_over_the_page_limit_is_refused() -> None:
    frames = [text_image([f"page {n}"], size=12) for n in range(3)]
    with pytest.raises(TooManyPages):
        read(image_bytes(frames, "TIFF"), "long.tiff", Limits(max_pages=2))


def test_a_tiny_low_resolution_image_is_scaled_up_before_ocr() -> None:
    tiny = text_image(LINES, size=11, margin=4)  # letters about 8 pixels high
    assert tiny.height < 50
    assert ocr_image(tiny).text != TEXT  # as it is, Tesseract misreads it
    assert read(image_bytes(tiny, "PNG"), "tiny.png").text == TEXT


def test_the_scale_comes_from_the_height_of_the_text_lines() -> None:
    big = 100_000_000
    assert upscale_factor(9.0, None, 150, 40, big) == pytest.approx(30 / 9)  # tiny type grows
    assert upscale_factor(16.0, 72.0, 600, 900, big) == 1.0  # legible type stays, whatever dpi
    assert upscale_factor(4.5, None, 150, 40, big) == 4.0  # at most 4x
    assert upscale_factor(None, 100.0, 850, 1100, big) == pytest.approx(3.0)  # lines unclear
    assert upscale_factor(None, None, 850, 1100, big) == 1.0
    assert upscale_factor(5.0, None, 1000, 1000, 2_000_000) == pytest.approx(2**0.5)  # limit


def test_text_line_height_is_measured_from_the_rows_of_ink() -> None:
    assert text_line_height(text_image(LINES, size=32)) == pytest.approx(27, abs=3)
    assert text_line_height(text_image(LINES, size=11)) == pytest.approx(9, abs=2)
    assert text_line_height(Image.new("L", (300, 200), 255)) is None  # no ink
    assert text_line_height(Image.new("L", (300, 200), 0)) is None  # all ink: no lines


def test_text_on_a_transparent_background_is_read() -> None:
    image = text_image(LINES, mode="RGBA")
    clear = Image.new("RGBA", image.size, (0, 0, 0, 0))  # black, fully transparent
    clear.paste(image, mask=image.convert("L").point(lambda v: 255 - v))  # only the ink
    assert read(image_bytes(clear, "PNG"), "logo.png").text == TEXT


def test_a_16_bit_greyscale_scan_is_read() -> None:
    deep = text_image(LINES).point(lambda v: v * 257, mode="I").convert("I;16")
    assert read(image_bytes(deep, "PNG"), "deep.png").text == TEXT


def test_a_photo_taken_sideways_is_turned_upright_by_its_exif_orientation() -> None:
    sideways = text_image(LINES).rotate(90, expand=True)  # the camera held on its side
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    data = image_bytes(sideways, "JPEG", quality=95, exif=exif.tobytes())
    assert read(data, "photo.jpg").text == TEXT


def test_an_animated_gif_reads_its_first_frame_and_says_so() -> None:
    frames = [text_image(["First frame text"]), text_image(["Second frame text"])]
    extracted = read(image_bytes(frames, "GIF", duration=100), "banner.gif")
    assert extracted.text == "First frame text"
    assert any("first frame" in w for w in extracted.warnings)


def test_an_image_without_text_is_read_with_no_text() -> None:
    extracted = read(image_bytes(Image.new("L", (500, 300), 255), "PNG"), "blank.png")
    assert extracted.text == ""
    assert any("OCR found no text" in note for note in extracted.warnings)


def test_a_scanned_receipt_goes_through_every_stage() -> None:
    result = process_document(image_bytes(text_image(LINES), "PNG"), "receipt.png")
    assert result.detected.format == "png"
    assert ("date", "2024-03-12") in {(f.name, f.normalized) for f in result.fields}


# --- hostile and broken images ----------------------------------------------------------------


def _bmp_header(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info) + 64, 0, 0, 54) + info + b"\x00" * 64


@pytest.mark.parametrize(
    ("data", "filename"),
    [(png_header(50_000, 50_000), "huge.png"), (_bmp_header(50_000, 50_000), "huge.bmp")],
    ids=["png", "bmp"],
)
def test_a_50000_by_50000_image_is_too_large_before_decoding(data: bytes, filename: str) -> None:
    fmt = filename.rsplit(".", 1)[1]
    detected = DetectedType(format=fmt, mime_type=f"image/{fmt}")  # the reader's own check
    tracemalloc.start()
    started = time.process_time()
    try:
        with pytest.raises(DocumentTooLarge) as error:
            extract(data, detected, Limits())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.value.code == "too_large"
    assert "pixel" in error.value.message
    assert peak < 5_000_000 and time.process_time() - started < 2  # nothing was decoded
    with pytest.raises(DocumentTooLarge):
        process_document(data, filename)


def test_the_pixel_limit_is_a_setting() -> None:
    data = image_bytes(text_image(LINES), "PNG")
    detected = DetectedType(format="png", mime_type="image/png")
    with pytest.raises(DocumentTooLarge) as error:
        extract(data, detected, Limits(max_image_pixels=10_000))
    assert "10,000-pixel limit" in error.value.message


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (image_bytes(text_image(LINES), "PNG")[:300], "cut.png"),
        (image_bytes(text_image(LINES), "JPEG")[:400], "cut.jpg"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "noise.png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 500, "zeros.jpg"),
        (b"II*\x00" + struct.pack("<I", 10_000) + b"\x00" * 64, "broken.tif"),
    ],
    ids=["truncated-png", "truncated-jpeg", "png-noise", "jpeg-zeros", "tiff-bad-ifd"],
)
def test_a_corrupt_image_is_corrupt(data: bytes, filename: str) -> None:
    with pytest.raises(CorruptDocument) as error:
        read(data, filename)
    assert error.value.code == "corrupt"
    assert error.value.message.endswith(".")


def test_one_damaged_tiff_page_does_not_cost_the_others() -> None:
    frames = [text_image(["Good first page"]), text_image(["Good second page"])]
    data = bytearray(image_bytes(frames, "TIFF", compression="tiff_deflate"))
    buffer = io.BytesIO(bytes(data))
    with Image.open(buffer) as tiff:
        tiff.seek(1)
        offset = tiff.tag_v2[273][0]  # where the second page's pixels start
    data[offset : offset + 40] = b"\xff" * 40  # break its compressed stream
    extracted = read(bytes(data), "fax.tif")
    assert extracted.pages[0] == "Good first page"
    assert extracted.pages[1] == ""
    assert any("Page 2" in w for w in extracted.warnings)




def _spy_on_ocr(monkeypatch) -> list[tuple[tuple[int, int], bool]]:
    """The size and the shrink flag of each page the reader hands to OCR."""
    calls: list[tuple[tuple[int, int], bool]] = []
    real = image_module.ocr_page

    def spy(page, *args, shrink: bool = True, **kwargs):
        calls.append((page.size, shrink))
        return real(page, *args, shrink=shrink, **kwargs)

    monkeypatch.setattr(image_module, "ocr_page", spy)
    return calls


def test_a_large_scan_of_tiny_print_is_enlarged_and_not_shrunk_back(monkeypatch) -> None:
    # Resampling blurs lines, and close-set ones merge: measured again they can look tall.
    calls = _spy_on_ocr(monkeypatch)
    scan = Image.new("L", (1000, 1400), 255)
    scan.paste(text_image(CONTRACT_LINES, size=9), (20, 20))
    extracted = read(image_bytes(scan, "PNG"), "scan.png")
    [(size, shrink)] = calls
    assert size[0] >= 2500  # enlarged, so OCR reads it at that size
    assert shrink is False
    assert "Agreement" in extracted.text


def test_a_large_scan_of_big_print_is_read_smaller(monkeypatch) -> None:
    calls = _spy_on_ocr(monkeypatch)
    scan = Image.new("L", (2480, 3508), 255)
    scan.paste(text_image(CONTRACT_LINES, size=64), (100, 100))
    extracted = read(image_bytes(scan, "PNG"), "scan.png")
    assert calls == [((2480, 3508), True)]
    assert ocr_scale(scan) < 1.0
    assert extracted.text.split() == " ".join(CONTRACT_LINES).split()
