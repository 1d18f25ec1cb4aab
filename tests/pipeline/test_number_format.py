"""A cell reads as Excel shows it: its number format draws the value, family by family."""

from __future__ import annotations

import pytest

from docflow.pipeline.extract.number_format import shown

# (value, number format, what Excel shows); 38218 is 19 August 2004, 38218.75 at 6 pm
DATES_AND_TIMES = [
    (38218, "d-mmm-yy", "19-Aug-04"),
    (38218, "m/d/yyyy", "8/19/2004"),
    (38218, "dd.mm.yyyy", "19.08.2004"),
    (38218, "yyyy-mm-dd", "2004-08-19"),
    (38218, "dddd, mmmm dd, yyyy", "Thursday, August 19, 2004"),
    (38218, "mmm-yy", "Aug-04"),
    (38218, "mmmmm", "A"),
    (38218, "[$-409]d-mmm-yyyy;@", "19-Aug-2004"),
    (38218.75, "m/d/yy h:mm", "8/19/04 18:00"),
    (38218.75, "h:mm AM/PM", "6:00 PM"),
    (0.25, "h:mm:ss A/P", "6:00:00 A"),
    (38218.75, "yyyy-mm-dd hh:mm:ss", "2004-08-19 18:00:00"),
    (1.5, "[h]:mm:ss", "36:00:00"),
    (0.0001, "mm:ss.00", "00:08.64"),
    (60, "d-mmm-yyyy", "29-Feb-1900"),  # Excel's own leap day
    (1, "dddd", "Sunday"),  # so its 1 January 1900 is a Sunday
]
FIXED_DECIMALS = [
    (270.65, "0.000", "270.650"),
    (2.675, "0.00", "2.68"),  # half away from zero on the 15-digit value, not on the binary one
    (-2.675, "0.00", "-2.68"),
    (5, "0.0", "5.0"),
    (0.5, "#.##", ".5"),
    (42, "00000", "00042"),
    (123456789, "000-00-0000", "123-45-6789"),
]
THOUSANDS = [
    (1234567.891, "#,##0.00", "1,234,567.89"),
    (1234567, "#,##0", "1,234,567"),
    (999, "#,##0", "999"),
    (0.4, "#,##0", "0"),
    (1234567, '#,##0,"K"', "1,235K"),
    (1234567, '0.0,,"M"', "1.2M"),
]
PERCENT = [
    (0.125, "0.00%", "12.50%"),
    (0.025, "0%", "3%"),
    (-0.5, "0.0%", "-50.0%"),
]
CURRENCY = [
    (1234.5, '"$"#,##0.00', "$1,234.50"),
    (-1234.5, '"$"#,##0.00_);[Red]\\("$"#,##0.00\\)', "($1,234.50)"),
    (-1234.5, "$#,##0.00", "-$1,234.50"),  # one section: the minus goes first
    (1234.5, "#,##0.00 [$€-407]", "1,234.50 €"),
    (1234.5, "[$USD] #,##0", "USD 1,235"),
    # accounting: "_(" is a space as wide as "(", "* " fills the cell (no text: as LibreOffice)
    (0, '_("$"* #,##0.00_);_("$"* \\(#,##0.00\\);_("$"* "-"??_);_(@_)', " $-   "),
    (1234.5, '_("$"* #,##0.00_);_("$"* \\(#,##0.00\\);_("$"* "-"??_);_(@_)', " $1,234.50 "),
]
SECTIONS = [
    (5, '0;"minus "0;"nothing"', "5"),
    (-5, '0;"minus "0;"nothing"', "minus 5"),
    (0, '0;"minus "0;"nothing"', "nothing"),
    (0, "0;-0;;@", ""),
    (5551234, "[<=9999999]###-####;(###) ###-####", "555-1234"),
    (2125551234, "[<=9999999]###-####;(###) ###-####", "(212) 555-1234"),
    (-3, "0.0;[Red]0.0", "3.0"),  # a negative section draws its own sign, here none
]
OTHER_NUMBERS = [
    (123456, "0.00E+00", "1.23E+05"),
    (0.000123, "0.0E+00", "1.2E-04"),
    (123456, "##0.0E+0", "123.5E+3"),
    (1.25, "# ?/?", "1 1/4"),
    (0.75, "?/?", "3/4"),
    (3, "# ?/?", "3"),
    (1.3, "# ?/8", "1 2/8"),
    (0.1 + 0.2, "General", "0.3"),
    (1234, "General", "1234"),
    (1234, 'General" kg"', "1234 kg"),
    (12.5, "@", "12.5"),  # a text format shows a number as General does
]


@pytest.mark.parametrize(("value", "number_format", "expected"), [
    *DATES_AND_TIMES, *FIXED_DECIMALS, *THOUSANDS, *PERCENT, *CURRENCY, *SECTIONS,
    *OTHER_NUMBERS,
])
def test_a_number_shows_as_its_format_draws_it(value: float, number_format: str,
                                               expected: str) -> None:
    assert shown(value, number_format) == expected


def test_a_workbook_counting_from_1904_shows_its_own_dates() -> None:
    assert shown(36756, "yyyy-mm-dd", date1904=True) == "2004-08-19"


@pytest.mark.parametrize(("number_format", "expected"), [
    ("@", "Kitten food"),
    ('"Item: "@', "Item: Kitten food"),
    ('0.00;-0.00;0;"<"@">"', "<Kitten food>"),
    ("0.00", "Kitten food"),  # no text section: the text as it is
])
def test_text_shows_through_the_formats_text_section(number_format: str, expected: str) -> None:
    assert shown("Kitten food", number_format) == expected


@pytest.mark.parametrize(("value", "number_format"), [
    (-1, "yyyy-mm-dd"),  # before Excel's first day: Excel fills the cell with #
    (3e6, "yyyy-mm-dd"),  # after 9999
    (1234.5, '0.00"unclosed'),
    (7.25, ""),
])
def test_what_a_format_cannot_draw_shows_as_general(value: float, number_format: str) -> None:
    assert shown(value, number_format) in ("-1", "3000000", "1234.50unclosed", "7.25")


def test_booleans_show_as_excel_names_them() -> None:
    assert (shown(True, "0.00"), shown(False, "General")) == ("TRUE", "FALSE")
