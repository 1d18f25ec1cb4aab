"""Keyword rules name the type of clear documents and say "other" when nothing fits."""

from __future__ import annotations

import pytest

from docflow.pipeline import classify
from docflow.pipeline.classify import DEFAULT_DOC_TYPES, DocType, RulesClassifier

INVOICE = """ACME Supplies Ltd
12 Industrial Way, Leeds LS1 4AB
VAT Reg No: GB123456789

INVOICE
Invoice Number: INV-2024-0042        Invoice Date: 12 March 2024
Bill To: Northwind Traders, 5 Harbour Road, Bristol

Description                 Qty   Unit Price    Amount
A4 paper, 5 reams            10      £4.50       £45.00
Toner cartridge               2     £39.00       £78.00
Subtotal                                        £123.00
VAT 20%                                          £24.60
Amount Due                                      £147.60

Payment terms: 30 days. Please remit to IBAN GB29 NWBK 6016 1331 9268 19.
"""

CONTRACT = """SOFTWARE LICENSE AGREEMENT

This Software License Agreement (the "Agreement") is entered into as of 1 April 2024 (the
"Effective Date") by and between Contoso Inc., a Delaware corporation (hereinafter the
"Licensor"), and Fabrikam LLC (hereinafter the "Licensee"), each a "Party" and together the
"Parties".

WHEREAS, Licensor owns certain software; and WHEREAS, Licensee wishes to use such software;
NOW, THEREFORE, the Parties agree as follows:
1. Grant of License. Licensor hereby grants Licensee a non-exclusive license.
2. Term and Termination. Either Party may terminate this Agreement upon 30 days notice.
3. Confidentiality. Each Party shall keep the other's information confidential.
4. Limitation of Liability. Neither Party shall be liable for indirect damages.
5. Governing Law. This Agreement shall be governed by the laws of the State of New York.
IN WITNESS WHEREOF, the Parties have executed this Agreement by their duly authorized
representatives.
"""

RESUME = """JANE DOE
Senior Data Engineer | jane.doe@example.com | linkedin.com/in/janedoe

PROFESSIONAL SUMMARY
Data engineer with 8 years of experience building pipelines.

WORK EXPERIENCE
Lead Data Engineer, Globex — 2020 to Present
- Designed streaming ingestion; responsibilities included mentoring four engineers.
Data Engineer, Initech — 2016 to 2020

EDUCATION
Master of Science in Computer Science, University of Leeds, 2016

SKILLS
Python, SQL, Spark, Kafka, Airflow. Proficient in AWS and GCP.
Languages: English, Spanish
"""

RECEIPT = """CORNER CAFE
Store #0142   Terminal 3   Cashier: Maria
2x Flat white          7.00
1x Croissant           3.20
SUBTOTAL              10.20
TAX                    0.82
TOTAL                 11.02
CASH                  20.00
CHANGE DUE             8.98
THANK YOU FOR YOUR PURCHASE - PLEASE COME AGAIN
"""

EMAIL = """From: Alice Smith <alice@example.com>
Sent: Tuesday, March 12, 2024 9:14 AM
To: Bob Jones <bob@example.com>
Cc: Team <team@example.com>
Subject: RE: Q1 planning

Hi Bob, thanks for the notes. Let's meet on Thursday.

Alice
"""

LETTER = """14 Elm Street
Springfield

Dear Mr. Thompson,

I am writing to thank you for your kind hospitality during my visit last month. The tour of the
workshop was a highlight, and I have enclosed the photographs we discussed.

Please do not hesitate to contact me if I can return the favour.

Yours sincerely,
Margaret Hill
"""

PAPER = """Attention-Based Parsing of Scanned Forms
A. Author, B. Writer — Department of Computer Science, University of Somewhere

Abstract
In this paper we propose a method for parsing scanned forms. Experiments on two datasets show
statistically significant gains over the state of the art.
Keywords: document analysis, OCR
1 Introduction
Prior work (Smith et al., 2020; Lee et al., 2021) relies on templates. Section 2 reviews related
work; Section 3 describes our methodology; results are in Fig. 3.
References
[1] Smith, J. et al. Proceedings of ICDAR, 2020. doi:10.1000/xyz
"""

NEWS = """City council approves new tram line
By Sam Reed, Staff Writer

The city council voted on Tuesday to approve a new tram line, officials said. According to a
spokesperson for the mayor, construction will begin next spring. "This is a historic day," the
mayor told reporters at a press conference. Opponents said in a statement that costs were
underestimated, Reuters reported.
"""

REPORT = """Quarterly Progress Report — Q2 2024
Prepared for: Board of Directors. Prepared by: Operations team.

Executive Summary
Revenue grew 12% year over year. Key findings are listed below.

Findings
1. Customer churn fell to 3%.
2. Delivery times improved.

Recommendations
Invest in the support team. Next steps and risks are covered in Appendix A.
"""

FORM = """APPLICATION FORM — LIBRARY CARD
Please complete all fields in BLOCK CAPITALS.
First name: ____________   Last name: ____________
Date of birth (DD/MM/YYYY): ____________
Postal code: ________
Membership type (check one): ☐ Adult ☐ Child ☐ Senior
Signature of applicant: ______________   Print name: ____________
FOR OFFICE USE ONLY: Card no. ________
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (INVOICE, "invoice"),
        (CONTRACT, "contract"),
        (RESUME, "resume"),
        (RECEIPT, "receipt"),
        (EMAIL, "email"),
        (LETTER, "letter"),
        (PAPER, "scientific_paper"),
        (NEWS, "news_article"),
        (REPORT, "report"),
        (FORM, "form"),
    ],
)
def test_clear_documents_get_their_type(text: str, expected: str) -> None:
    result = classify(text)
    assert result.doc_type == expected
    assert result.decider == "keywords"
    assert 0.5 < result.confidence <= 1


def test_text_about_nothing_in_particular_is_other() -> None:
    result = classify("The quick brown fox jumps over the lazy dog near the river bank.")
    assert result.doc_type == "other"
    assert 0 <= result.confidence <= 1


def test_empty_text_is_other() -> None:
    assert classify("").doc_type == "other"


def test_keywords_match_whole_words_only() -> None:
    # "invoiced", "party-goers", "reinvoice" must not count as invoice or contract evidence.
    scores = RulesClassifier().scores("reinvoiced partygoers shallow")
    assert scores["invoice"] == 0
    assert scores["contract"] == 0


def test_a_phrase_split_across_lines_still_counts() -> None:
    scores = RulesClassifier().scores("BILL\n   TO: someone")
    assert scores["invoice"] >= 3


def test_custom_types_can_be_classified() -> None:
    recipes = DocType("recipe", "Cooking instructions.", {"preheat": 3, "tablespoon": 2, "oven": 2})
    classifier = RulesClassifier([*DEFAULT_DOC_TYPES, recipes])
    text = "Preheat the oven. Add a tablespoon of butter. Bake in the oven for 20 minutes."
    assert classifier.classify(text).doc_type == "recipe"
