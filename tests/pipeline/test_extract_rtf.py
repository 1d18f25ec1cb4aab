"""RTF: the text of every destination a reader sees, and nothing from those they never see."""

from __future__ import annotations

import pytest

from docflow.pipeline import CorruptDocument, Limits, detect, extract
from docflow.pipeline.extract.rtf import rtf_text

LIMITS = Limits()


def read(data: bytes) -> str:
    return extract(data, detect(data, "note.rtf", LIMITS), LIMITS).text


def test_text_after_an_ignorable_destination_is_kept() -> None:
    rtf = rb"{\rtf1\ansi{\*\generator Acme 1.0;}Hello {\*\bkmkstart mark}world\par}"
    assert read(rtf) == "Hello world"


def test_an_unknown_control_word_is_ignored_without_losing_the_text_after_it() -> None:
    rtf = rb"{\rtf1\ansi\newfangled12 Hello \zzzq there\par second line\par}"
    assert read(rtf) == "Hello there\nsecond line"


def test_tables_font_colour_style_and_info_are_not_text() -> None:
    rtf = (
        rb"{\rtf1\ansi{\fonttbl{\f0\fswiss Arial;}{\f1 Times;}}{\colortbl;\red0\green0\blue0;}"
        rb"{\stylesheet{\s0 Normal;}}{\info{\title Secret title}{\author Ann}}"
        rb"\f0 Only this\par}"
    )
    assert read(rtf) == "Only this"


def test_a_field_gives_its_result_not_its_instruction() -> None:
    rtf = rb"{\rtf1\ansi Visit {\field{\*\fldinst HYPERLINK x}{\fldrslt our site}} now}"
    assert read(rtf) == "Visit our site now"


def test_code_page_bytes_follow_ansicpg_and_the_font_charset() -> None:
    rtf = (
        rb"{\rtf1\ansi\ansicpg1251{\fonttbl{\f0\fcharset204 Arial;}{\f1\fcharset128 Mincho;}}"
        rb"\f0 \'cf\'f0\'e8\'ec\'e5\'f0 {\f1 \'93\'fa\'96\'7b}\par}"
    )
    assert read(rtf) == "Пример 日本"


def test_unicode_escapes_drop_their_fallback_characters_per_uc() -> None:
    rtf = rb"{\rtf1\ansi\uc1 caf\u233e, {\uc2\u8364xx euro}, \u-10179?\u-8704? and \u1055\'cf}"
    assert read(rtf) == "café, € euro, 😀 and П"


def test_binary_data_is_jumped_over_even_when_it_looks_like_rtf() -> None:
    rtf = rb"{\rtf1\ansi A {\pict\bin6 }{\par}B\par}"
    assert read(rtf) == "A B"


def test_pictures_and_object_data_are_skipped_but_an_object_result_is_kept() -> None:
    rtf = (
        rb"{\rtf1\ansi Before {\pict\pngblip 89504e470d0a1a0a}"
        rb"{\object\objemb{\*\objclass Excel.Sheet}{\*\objdata 0105000002000000}"
        rb"{\result Shown table}} after\par}"
    )
    assert read(rtf) == "Before Shown table after"


def test_paragraph_line_tab_and_table_separators() -> None:
    rtf = (
        rb"{\rtf1\ansi First\line wrapped\par Name\tab Value\par"
        rb"{\trowd\cellx1000\cellx2000\pard\intbl A1\cell B1\cell\row"
        rb"\pard\intbl A2\cell B2\cell\row}}"
    )
    assert read(rtf).split("\n") == ["First", "wrapped", "Name\tValue", "A1\tB1", "A2\tB2"]


def test_text_boxes_are_read_once_and_comments_are_kept() -> None:
    rtf = (
        rb"{\rtf1\ansi Body text"
        rb"{\shp{\*\shpinst{\sp{\sn fillColor}{\sv 255}}{\shptxt Boxed remark\par}}"
        rb"{\shprslt{\*\do\dobxcolumn{\dptxbx{\pard Boxed remark\par}}}}}"
        rb"{\*\atnid R}{\*\atnauthor Rita}\chatn{\*\annotation \pard Check this\par}\par}"
    )
    text = read(rtf)
    assert text.count("Boxed remark") == 1
    assert "Check this" in text
    assert "fillColor" not in text and "255" not in text


def test_escaped_braces_and_backslashes_are_text() -> None:
    assert read(rb"{\rtf1\ansi a \{b\} c\\d\~e}") == "a {b} c\\d\u00a0e"


def test_deep_nesting_is_read_without_recursion() -> None:
    depth = 100_000
    rtf = b"{\\rtf1\\ansi start " + b"{" * depth + b"deep" + b"}" * depth + b" end}"
    text = read(rtf)
    assert text.startswith("start") and text.endswith("end")


def test_reading_stops_at_the_text_limit() -> None:
    rtf = b"{\\rtf1\\ansi " + b"word " * 10_000 + b"}"
    limits = Limits(max_text_chars=1000)
    result = extract(rtf, detect(rtf, "big.rtf", limits), limits)
    assert result.truncated and len(result.text) == 1000


def test_not_rtf_at_all_is_corrupt() -> None:
    with pytest.raises(CorruptDocument):
        rtf_text(b"plain text")


def test_a_starred_footnote_is_kept_as_libreoffice_writes_it() -> None:
    rtf = (
        rb"{\rtf1\ansi Intro paragraph{\super\chftn}{\*\footnote\pard{\super\chftn} "
        rb"Source: annual report\par} goes on\par}"
    )
    assert read(rtf).split("\n") == ["Intro paragraph goes on", " Source: annual report"]


def test_footnotes_and_comments_come_after_the_body() -> None:
    rtf = (
        rb"{\rtf1\ansi First{\footnote \pard Plain note\par} paragraph\par "
        rb"Second{\*\atnid R}\chatn{\*\annotation \pard A comment\par} paragraph\par}"
    )
    assert read(rtf).split("\n") == [
        "First paragraph", "Second paragraph", "Plain note", "A comment",
    ]


def test_a_leading_utf8_bom_is_not_text() -> None:
    assert rtf_text(b"\xef\xbb\xbf{\\rtf1\\ansi Hello}") == "Hello"
