"""A small, deterministic corpus of made-up business documents, written by docflow itself.

A newcomer gets results at once, tests get a mixed batch with a few broken files, and benchmarks
have a fallback corpus. Everything is derived from the seed; every good file holds one made-up
marker word (`DemoFile.unique_word`) that occurs in no other file, so a search can aim at it.

    python -m docflow.demo DIR --count 60
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import html
import io
import random
import textwrap
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import docx

if TYPE_CHECKING:
    import httpx

KINDS = [
    "invoice", "receipt", "contract", "letter", "email",
    "resume", "abstract", "news", "report", "form",
]  # fmt: skip
# Formats each kind plausibly arrives in; files cycle through them so every format appears.
FORMATS = {
    "invoice": ["pdf", "docx", "html", "csv"],
    "receipt": ["pdf", "txt", "csv"],
    "contract": ["pdf", "docx", "md"],
    "letter": ["docx", "pdf", "txt", "html"],
    "email": ["txt"],
    "resume": ["docx", "pdf", "md", "html"],
    "abstract": ["pdf", "txt", "md"],
    "news": ["html", "txt", "md"],
    "report": ["pdf", "docx", "md", "csv"],
    "form": ["pdf", "html", "csv", "docx"],
}
BROKEN_KINDS = [("truncated-pdf", "pdf"), ("random-bytes-docx", "docx"), ("empty-file", "pdf")]


@dataclass(frozen=True)
class DemoFile:
    """One written file; `unique_word` is None for broken files, which have no readable text."""

    path: Path
    kind: str
    unique_word: str | None
    broken: bool

    @property
    def doc_type(self) -> str | None:
        """The document type docflow should give it (None for a broken file)."""
        return None if self.broken else _DOC_TYPES.get(self.kind, self.kind)


_DOC_TYPES = {"abstract": "scientific_paper", "news": "news_article"}


# -- made-up people, companies, money and dates -----------------------------------------------

FIRST = [
    "Alice", "José", "Zoë", "François", "Mei", "Oluwaseun", "Søren", "Priya", "Liam", "Chloé",
    "Mateo", "Hannah", "Yuki", "Björn", "Amara", "Noah", "Inès", "Diego", "Fatima", "Ewan",
]  # fmt: skip
LAST = [
    "Johnson", "García", "Müller", "Dubois", "Chen", "Okafor", "Nielsen", "Sharma", "O'Brien",
    "Lefèvre", "Rossi", "Schmidt", "Tanaka", "Andersson", "Mensah", "Novak", "Moreau",
    "Fernández", "Haddad", "MacLeod",
]  # fmt: skip


@dataclass(frozen=True)
class _Company:
    name: str
    domain: str
    country: str
    street: str
    city: str


COMPANIES = [
    _Company("Acme Industrial Supply Inc.", "acme.example.com", "US", "1200 Harbor Blvd",
             "Oakland, CA 94607"),
    _Company("Globex Logistics LLC", "globex.example.com", "US", "55 Water Street",
             "New York, NY 10041"),
    _Company("Initech Software Corp.", "initech.example.com", "US", "4120 Freidrich Lane",
             "Austin, TX 78744"),
    _Company("Northwind Traders Ltd", "northwind.example.co.uk", "GB", "14 Baker Street",
             "London W1U 3BW"),
    _Company("Brightline Consulting Ltd", "brightline.example.co.uk", "GB", "2 Deansgate",
             "Manchester M3 1AZ"),
    _Company("Müller & Söhne GmbH", "mueller-soehne.example.de", "DE", "Hauptstraße 42",
             "10117 Berlin"),
    _Company("Stark Analytik GmbH", "stark-analytik.example.de", "DE", "Leopoldstraße 7",
             "80802 München"),
    _Company("Café Lumière SARL", "cafe-lumiere.example.fr", "FR", "8 rue de la Paix",
             "75002 Paris"),
    _Company("Bella Vista S.r.l.", "bellavista.example.it", "IT", "Via Roma 21", "00184 Roma"),
    _Company("Oceanic Freight B.V.", "oceanic.example.nl", "NL", "Keizersgracht 101",
             "1015 CJ Amsterdam"),
]  # fmt: skip
CURRENCY = {"US": "USD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "IT": "EUR", "NL": "EUR"}
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip
SYLLABLES = [
    "zor", "blat", "quix", "vel", "mun", "drak", "fen", "tor", "plim", "gax", "wub", "snor",
    "kel", "brim", "yol", "frib", "nax", "pru",
]  # fmt: skip


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _slug(text: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in _ascii(text).lower()).split()
    return "-".join([word for word in words if len(word) > 1][:3])


def _iban(rng: random.Random, country: str) -> str:
    """A syntactically valid IBAN (correct mod-97 check digits): British or else German."""
    if country == "GB":
        bban = "NWBK" + "".join(rng.choice("0123456789") for _ in range(14))
    else:
        country, bban = "DE", "".join(rng.choice("0123456789") for _ in range(18))
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    iban = f"{country}{98 - int(digits) % 97:02d}{bban}"
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _de_vat(rng: random.Random) -> str:
    """A German VAT id whose ninth digit passes the ISO 7064 MOD 11,10 check."""
    body = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(7)]
    product = 10
    for digit in body:
        total = (digit + product) % 10 or 10
        product = (2 * total) % 11
    return "DE" + "".join(map(str, body)) + str((11 - product) % 10)


class _Facts:
    """Seeded source of names, contacts, dates and amounts in each country's own formats."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # One document writes every date and amount the same way, as real ones do.
        self._date_style = rng.randrange(12)
        self._money_style = rng.randrange(12)

    def person(self) -> str:
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"

    def company(self) -> _Company:
        return self.rng.choice(COMPANIES)

    def email(self, person: str, domain: str) -> str:
        first, last = (_slug(part).replace("-", "") for part in person.split(" ", 1))
        return self.rng.choice([f"{first}.{last}", f"{first[0]}{last}", first]) + f"@{domain}"

    def phone(self, country: str) -> str:
        r = self.rng.randint
        return {
            "US": self.rng.choice([f"+1 (415) 555-01{r(10, 99)}", f"(212) 555-01{r(10, 99)}"]),
            "GB": f"+44 20 7946 0{r(100, 999)}",
            "DE": f"+49 30 {r(1000, 9999)} {r(1000, 9999)}",
            "FR": f"+33 1 {r(10, 99)} {r(10, 99)} {r(10, 99)} {r(10, 99)}",
            "IT": f"+39 06 {r(1000, 9999)} {r(1000, 9999)}",
            "NL": f"+31 20 {r(100, 999)} {r(1000, 9999)}",
        }[country]

    def day(self) -> dt.date:
        return dt.date(2023, 1, 1) + dt.timedelta(days=self.rng.randint(0, 900))

    def date(self, day: dt.date, country: str) -> str:
        month = MONTHS[day.month - 1]
        if country == "US":
            styles = [
                f"{day:%m/%d/%Y}",
                f"{month} {day.day}, {day.year}",
                f"{day:%b} {day.day}, {day.year}",
            ]
        elif country == "GB":
            styles = [f"{day:%d/%m/%Y}", f"{day.day} {month} {day.year}"]
        else:
            styles = [f"{day:%d.%m.%Y}", f"{day.day} {month} {day.year}"]
        styles.append(day.isoformat())
        return styles[self._date_style % len(styles)]

    def money(self, amount: float, country: str) -> str:
        plain = f"{amount:,.2f}"
        european = plain.replace(",", " ").replace(".", ",").replace(" ", ".")
        styles = {
            "USD": [f"${plain}", f"USD {plain}", f"{plain} USD"],
            "GBP": [f"£{plain}", f"GBP {plain}"],
            "EUR": [f"€{european}", f"{european} €", f"EUR {plain}", f"{european} EUR"],
        }[CURRENCY[country]]
        return styles[self._money_style % len(styles)]

    def sentences(self, pool: Sequence[str], n: int) -> str:
        return " ".join(self.rng.sample(list(pool), min(n, len(pool))))


@dataclass
class _Content:
    """A document before it is rendered: what every format writes, each in its own way."""

    title: str | None
    paragraphs: list[str]
    table: list[list[str]] | None = None  # first row is the header
    slug: str = ""
    table_after: int | None = None  # how many paragraphs precede the table; None: all of them

    @property
    def split(self) -> tuple[list[str], list[str]]:
        """The paragraphs before and after the table."""
        at = len(self.paragraphs) if self.table_after is None else self.table_after
        return self.paragraphs[:at], self.paragraphs[at:]


LEGAL = [
    "Each party shall keep the other party's confidential information secret.",
    "Neither party may assign this agreement without prior written consent.",
    "Invoices are payable within thirty (30) days of receipt.",
    "This agreement may be terminated by either party with sixty (60) days' written notice.",
    "The Supplier warrants that the services will be performed with reasonable skill and care.",
    "Liability under this agreement is limited to the fees paid in the preceding twelve months.",
    "Any amendment must be made in writing and signed by both parties.",
    "Force majeure events suspend the affected obligations for their duration.",
    "The Client shall provide timely access to information and premises.",
    "Intellectual property created under this agreement vests in the Client upon full payment.",
]
BUSINESS = [
    "Revenue grew on the back of strong demand in the second half.",
    "Operating costs were held flat despite wage inflation.",
    "Customer churn fell for the third consecutive quarter.",
    "The logistics backlog was cleared ahead of schedule.",
    "Headcount increased modestly, mostly in customer support.",
    "Cash conversion improved as overdue receivables were collected.",
    "The board approved a further investment in automation.",
    "Supply constraints eased, although freight rates remain volatile.",
    "Gross margin narrowed slightly because of promotional pricing.",
    "Management expects similar trends to continue next quarter.",
]
SCIENCE = [
    "We present a method that reduces annotation cost without loss of accuracy.",
    "Experiments on three public benchmarks show consistent improvements.",
    "The approach combines a lightweight encoder with a calibrated classifier.",
    "Ablation studies confirm the contribution of each component.",
    "Our results suggest that layout cues matter more than previously assumed.",
    "We release the code and the evaluation protocol to support replication.",
    "Error analysis reveals remaining weaknesses on low-quality scans.",
    "Compared with strong baselines, the method is four times faster at inference.",
]
NEWS = [
    "Analysts said the move had been expected for several months.",
    "The announcement sent shares up more than four percent in early trading.",
    "Local officials welcomed the investment, citing new jobs in the region.",
    "Critics warned that the timeline was ambitious.",
    "The company declined to comment on the financial terms.",
    "Rivals are expected to respond with similar offers before the end of the year.",
    "Regulators will review the deal in the coming weeks.",
    "Employees were informed in a town-hall meeting on Monday morning.",
]


# -- one writer per kind of document ----------------------------------------------------------


def _invoice(f: _Facts, word: str) -> _Content:
    seller, customer, day = f.company(), f.person(), f.day()
    country = seller.country
    extras = [
        "Hosting (monthly)",
        "Support plan",
        "Travel expenses",
        "Training workshop",
        "Hardware: docking station",
    ]
    items = [(f"Consulting hours, project {word}", f.rng.randint(5, 40), f.rng.randint(80, 180))]
    items += [
        (label, f.rng.randint(1, 4), f.rng.randint(20, 900)) for label in f.rng.sample(extras, 3)
    ]
    subtotal = sum(qty * price for _, qty, price in items)
    tax_rate = {"US": 0.0825, "GB": 0.20, "DE": 0.19}.get(country, 0.21)
    table = [["Description", "Qty", "Unit price", "Amount"]]
    for label, qty, price in items:
        table.append([label, str(qty), f.money(price, country), f.money(qty * price, country)])
    if country == "DE":
        tax_id = f"VAT ID: {_de_vat(f.rng)}"
    else:
        tax_id = f"Tax ID: {f.rng.randint(10, 99)}-{f.rng.randint(1000000, 9999999)}"
    paragraphs = [
        f"{seller.name}, {seller.street}, {seller.city}",
        f"{tax_id} · Phone: {f.phone(country)} · Email: billing@{seller.domain}",
        f"Bill to: {customer}",
        f"Invoice number: INV-{day.year}-{f.rng.randint(1, 9999):04d}",
        f"Invoice date: {f.date(day, country)}",
        f"Due date: {f.date(day + dt.timedelta(days=30), country)}",
        f"Subtotal: {f.money(subtotal, country)}",
        f"Tax ({tax_rate:.2%}): {f.money(subtotal * tax_rate, country)}",
        f"Total due: {f.money(subtotal * (1 + tax_rate), country)}",
        f"Please pay by bank transfer. IBAN: {_iban(f.rng, country)}",
    ]
    return _Content("INVOICE", paragraphs, table, _slug(seller.name), table_after=6)


def _receipt(f: _Facts, word: str) -> _Content:
    shop = f.company()
    menu = ["Flat white", "Croissant", "Orange juice", "Bagel", "Sparkling water", "Green tea"]
    items = [(f"{word} sourdough loaf", f.rng.randint(300, 900) / 100)]
    items += [(item, f.rng.randint(100, 2500) / 100) for item in f.rng.sample(menu, 4)]
    table = [["Item", "Price"]] + [[item, f.money(price, shop.country)] for item, price in items]
    time_of_day = f"{f.rng.randint(7, 20):02d}:{f.rng.randint(0, 59):02d}"
    paragraphs = [
        f"{shop.street}, {shop.city} · Tel. {f.phone(shop.country)}",
        f"Date: {f.date(f.day(), shop.country)} {time_of_day}",
        f"Receipt no. {f.rng.randint(100000, 999999)}",
        f"TOTAL {f.money(sum(price for _, price in items), shop.country)}",
        f"Paid by card **** {f.rng.randint(1000, 9999)}",
        "Thank you for your visit!",
    ]
    return _Content(f"{shop.name} - RECEIPT", paragraphs, table, _slug(shop.name), table_after=3)


def _contract(f: _Facts, word: str) -> _Content:
    client, supplier = f.rng.sample(COMPANIES, 2)
    day, country = f.day(), client.country
    fee = f.money(f.rng.randint(2, 30) * 500, country)
    paragraphs = [
        f"This Service Agreement is made on {f.date(day, country)} between {client.name}, "
        f"{client.street}, {client.city} (the Client) and {supplier.name} (the Supplier).",
        "1. Scope. The Supplier shall deliver the services described in Schedule A under the "
        f"project name {word}.",
        f"2. Fees. The Client shall pay a monthly fee of {fee} plus applicable taxes.",
        *(f"{n}. {f.sentences(LEGAL, 5)}" for n in range(3, 13)),
        f"Signed for the Client: {f.person()}, {f.date(day, country)}",
        f"Signed for the Supplier: {f.person()}, {f.date(day + dt.timedelta(days=2), country)}",
    ]
    return _Content("SERVICE AGREEMENT", paragraphs, None, _slug(client.name))


def _letter(f: _Facts, word: str) -> _Content:
    sender_org, sender, recipient = f.company(), f.person(), f.person()
    country = sender_org.country
    paragraphs = [
        f"{sender_org.name}\n{sender_org.street}\n{sender_org.city}",
        f.date(f.day(), country),
        f"Dear {recipient},",
        f"Thank you for your enquiry regarding account {f.rng.randint(100000, 999999)} "
        f"(our reference {word}). {f.sentences(BUSINESS, 2)}",
        f"An outstanding balance of {f.money(f.rng.randint(50, 5000), country)} remains open. "
        "Please contact us if you believe this is in error.",
        f"Yours sincerely,\n{sender}\n{f.phone(country)} · {f.email(sender, sender_org.domain)}",
    ]
    return _Content(None, paragraphs, None, _slug(sender_org.name))


def _email(f: _Facts, word: str) -> _Content:
    (org_a, org_b), sender, recipient, day = (
        f.rng.sample(COMPANIES, 2),
        f.person(),
        f.person(),
        f.day(),
    )
    sent = dt.datetime.combine(day, dt.time(f.rng.randint(7, 19), f.rng.randint(0, 59)))
    subjects = ["Re: Quarterly figures", "Meeting next week", "Invoice question", "Fwd: Contract"]
    subject = f.rng.choice(subjects)
    headers = [
        f"From: {sender} <{f.email(sender, org_a.domain)}>",
        f"To: {recipient} <{f.email(recipient, org_b.domain)}>",
        f"Date: {sent:%a, %d %b %Y %H:%M:%S} +0000",
        f"Subject: {subject}",
    ]
    paragraphs = [
        "\n".join(headers),
        f"Hi {recipient.split()[0]},",
        f"Following up on the {word} item: {f.sentences(BUSINESS, 2)} Could we meet on "
        f"{f.date(day + dt.timedelta(days=7), org_a.country)}? The budget is "
        f"{f.money(f.rng.randint(1, 90) * 100, org_a.country)}.",
        f"Best regards,\n{sender}\n{f.phone(org_a.country)}",
    ]
    return _Content(None, paragraphs, None, _slug(subject))


def _resume(f: _Facts, word: str) -> _Content:
    person, home = f.person(), f.company()
    roles = ["Senior Analyst", "Project Manager", "Software Engineer", "Accountant"]
    jobs = [
        f"{f.rng.choice(roles)}, {f.rng.choice(COMPANIES).name}, "
        f"{MONTHS[f.rng.randint(0, 11)][:3]} {start} - {end}: {f.sentences(BUSINESS, 1)}"
        for start, end in [(2020, "Present"), (2016, "2020"), (2013, "2016")]
    ]
    paragraphs = [
        f"{home.city} · {f.phone(home.country)} · {f.email(person, 'mail.example.com')}",
        "Summary: Detail-oriented professional with ten years of experience in operations.",
        "Experience",
        *jobs,
        "Education: MSc Information Systems, University of Leeds, 2013",
        f"Skills: SQL, Python, negotiation, certified {word} practitioner",
    ]
    return _Content(person, paragraphs, None, _slug(person))


def _abstract(f: _Facts, word: str) -> _Content:
    authors = [f.person() for _ in range(f.rng.randint(2, 4))]
    topic = f.rng.choice(["Document Layout", "Invoice Understanding", "Table Extraction"])
    paragraphs = [
        ", ".join(authors),
        f"Correspondence: {f.email(authors[0], 'uni.example.edu')}",
        "Abstract",
        f.sentences(SCIENCE, 6),
        f"Keywords: {topic.lower()}, weak supervision, {word}",
        f"Received {f.date(f.day(), 'GB')}; DOI 10.5555/demo.{f.rng.randint(1000, 9999)}",
    ]
    title = f"Efficient {topic} with Weak Supervision: the {word} approach"
    return _Content(title, paragraphs, None, _slug(topic))


def _news(f: _Facts, word: str) -> _Content:
    org = f.company()
    place = org.city.split(",")[0].split()[-1].upper()
    paragraphs = [
        f"By {f.person()} · {f.date(f.day(), org.country)}",
        f"{place} - {org.name} said on Tuesday it would open a new site under the codename {word}.",
        *(f.sentences(NEWS, 3) for _ in range(f.rng.randint(3, 6))),
        f'"This is a milestone for us," said chief executive {f.person()}.',
    ]
    amount = f.money(f.rng.randint(2, 90) * 1_000_000, org.country)
    title = f"{org.name} announces expansion, {amount} investment"
    return _Content(title, paragraphs, None, _slug(org.name))


def _report(f: _Facts, word: str) -> _Content:
    org, author = f.company(), f.person()
    quarter = f"Q{f.rng.randint(1, 4)} {f.rng.randint(2023, 2025)}"
    table = [["Region", "Revenue", "Change", "Notes"]]
    for region in ["North", "South", "East", "West", "Online"]:
        revenue = f.money(f.rng.randint(100, 900) * 1000, org.country)
        note = f"pilot {word}" if region == "Online" else ""
        table.append([region, revenue, f"{f.rng.uniform(-8, 15):+.1f}%", note])
    heads = ["Executive summary", "Sales", "Operations", "Finance", "Outlook", "Risks", "People"]
    paragraphs = [
        f"{head}. {f.sentences(BUSINESS, 6)} {f.sentences(BUSINESS, 5)}" for head in heads
    ]
    paragraphs.append(
        f"Prepared by {author} ({f.email(author, org.domain)}), {f.date(f.day(), org.country)}"
    )
    title = f"{org.name} - Quarterly Report {quarter}"
    return _Content(title, paragraphs, table, _slug(org.name), table_after=1)


def _form(f: _Facts, word: str) -> _Content:
    person, issuer = f.person(), f.company()
    country = issuer.country
    title = f.rng.choice(["Customer Registration Form", "Expense Claim Form", "Change of Address"])
    birth = dt.date(1960, 1, 1) + dt.timedelta(days=f.rng.randint(0, 15000))
    table = [
        ["Field", "Value"],
        ["Full name", person],
        ["Date of birth", f.date(birth, country)],
        ["Email", f.email(person, "mail.example.com")],
        ["Phone", f.phone(country)],
        ["Address", f"{issuer.street}, {issuer.city}"],
        ["IBAN", _iban(f.rng, country)],
        ["Amount", f.money(f.rng.randint(10, 2000), country)],
        ["Reference", word],
        ["Date signed", f.date(f.day(), country)],
    ]
    intro = f"Issued by {issuer.name}. Please complete all fields in block capitals."
    return _Content(title, [intro], table, _slug(title))


WRITERS: dict[str, Callable[[_Facts, str], _Content]] = {
    "invoice": _invoice,
    "receipt": _receipt,
    "contract": _contract,
    "letter": _letter,
    "email": _email,
    "resume": _resume,
    "abstract": _abstract,
    "news": _news,
    "report": _report,
    "form": _form,
}


# -- renderers --------------------------------------------------------------------------------

PDF_LINES_PER_PAGE = 46
PDF_CHARS_PER_LINE = 90


def _pdf_string(text: str) -> bytes:
    """A PDF literal string in WinAnsi (cp1252), the encoding the standard Helvetica font uses."""
    raw = text.encode("cp1252", "replace")
    out = bytearray(b"(")
    for byte in raw:
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += b"\\%03o" % byte
    return bytes(out + b")")


def make_pdf(pages: list[str], title: str | None = None) -> bytes:
    """A minimal valid PDF: one page per entry (more if an entry does not fit), Helvetica text.

    `title` is set in bold at the top of the first page and in the document info.
    """
    layouts: list[list[str]] = []
    for page in pages or [""]:
        lines = [
            wrapped
            for line in page.split("\n")
            for wrapped in textwrap.wrap(line, PDF_CHARS_PER_LINE, break_long_words=False) or [""]
        ]
        layouts += [
            lines[i : i + PDF_LINES_PER_PAGE] for i in range(0, len(lines), PDF_LINES_PER_PAGE)
        ] or [[]]
    n = len(layouts)
    # Children before parents and the catalog last, so a truncated copy loses its root.
    pages_ref, catalog_ref, info_ref = 3 + 2 * n, 4 + 2 * n, 5 + 2 * n
    objects = [
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    ]
    for number, lines in enumerate(layouts):
        ops = [b"BT", b"72 720 Td", b"14 TL"]
        if number == 0 and title:
            ops += [b"/F2 14 Tf", _pdf_string(title) + b" Tj", b"0 -24 Td"]
        ops.append(b"/F1 10 Tf")
        ops += [_pdf_string(line) + b" Tj T*" for line in lines]
        stream = b"\n".join(ops + [b"ET"])
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 1 0 R /F2 2 0 R >> >> >>" % (pages_ref, 3 + 2 * number)
        )
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(n))
    objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, n))
    objects.append(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_ref)
    objects.append(b"<< /Title %s /Producer (docflow demo) >>" % _pdf_string(title or ""))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog_ref,
        info_ref,
        xref,
    )
    return bytes(out)


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps, so the same seed gives the same bytes (and hash)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info))
    return out.getvalue()


def make_docx(
    paragraphs: Sequence[str],
    *,
    title: str | None = None,
    table: Sequence[Sequence[str]] | None = None,
    table_after: int | None = None,
    header: str | None = None,
) -> bytes:
    """A Word document: optional heading, paragraphs, a table and a page header.

    The table (first row bold) follows the first `table_after` paragraphs, or all of them.
    """
    document = docx.Document()
    stamp = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    props = document.core_properties
    props.created = props.modified = props.last_printed = stamp
    props.title, props.author = title or "", "docflow demo"
    if header:
        document.sections[0].header.paragraphs[0].text = header
    if title:
        document.add_heading(title, level=1)
    at = len(paragraphs) if table_after is None else table_after
    for paragraph in paragraphs[:at]:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        grid.style = "Table Grid"
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
        for cell in grid.rows[0].cells:
            for run in cell.paragraphs[0].runs:
                run.bold = True
    for paragraph in paragraphs[at:]:
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return _fixed_zip(buffer.getvalue())


def _text_lines(content: _Content, width: int) -> list[str]:
    """Plain-text lines; a multi-line paragraph (address, e-mail headers) keeps its own breaks."""

    def block(paragraphs: list[str]) -> list[str]:
        lines: list[str] = []
        for paragraph in paragraphs:
            if "\n" in paragraph:
                lines += paragraph.split("\n")
            else:
                lines += textwrap.wrap(paragraph, width, break_long_words=False)
            lines.append("")
        return lines

    before, after = content.split
    lines = [content.title, "=" * len(content.title), ""] if content.title else []
    lines += block(before)
    if content.table:
        widths = [max(len(row[i]) for row in content.table) for i in range(len(content.table[0]))]
        for row in content.table:
            lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        lines.append("")
    return lines + block(after)


def _render_md(content: _Content) -> str:
    before, after = content.split
    parts = [f"# {content.title}"] if content.title else []
    parts += [p.replace("\n", "  \n") for p in before]
    if content.table:
        rows = [[cell.replace("|", "\\|") for cell in row] for row in content.table]
        lines = ["| " + " | ".join(row) + " |" for row in rows]
        lines.insert(1, "|" + "---|" * len(rows[0]))
        parts.append("\n".join(lines))
    parts += [p.replace("\n", "  \n") for p in after]
    return "\n\n".join(parts) + "\n"


def _render_html(content: _Content, charset: str) -> str:
    before, after = content.split
    title = html.escape(content.title or content.paragraphs[0].split("\n")[0])
    body = [f"<h1>{html.escape(content.title)}</h1>"] if content.title else []
    body += ["<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>" for p in before]
    if content.table:
        head, *rows = content.table
        lines = ["".join(f"<th>{html.escape(v)}</th>" for v in head)]
        lines += ["".join(f"<td>{html.escape(v)}</td>" for v in row) for row in rows]
        body.append("<table>\n" + "\n".join(f"<tr>{line}</tr>" for line in lines) + "\n</table>")
    body += ["<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>" for p in after]
    # The declared charset is the one the bytes are in; readers must honour it.
    meta = f'<meta charset="{charset}">'
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n{meta}\n<title>{title}</title>\n'
        "<style>body { font-family: sans-serif; } td, th { padding: 4px; }</style>\n</head>\n"
        '<body>\n<nav><a href="/">Home</a> | <a href="/archive">Archive</a></nav>\n<main>\n'
        + "\n".join(body)
        + "\n</main>\n<footer>© 2024 docflow demo · Über uns · Mentions légales</footer>\n"
        "<script>window.analytics = [];</script>\n</body>\n</html>\n"
    )


def _render_csv(content: _Content) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(content.table or [])
    return buffer.getvalue()


def _render(content: _Content, fmt: str, variant: int) -> bytes:
    """The file's bytes; `variant` alternates encodings so readers meet more than UTF-8."""
    if fmt == "pdf":
        # The title is set in bold by make_pdf, so the text starts after its underline.
        lines = _text_lines(content, PDF_CHARS_PER_LINE)[3 if content.title else 0 :]
        return make_pdf(["\n".join(lines)], title=content.title)
    if fmt == "docx":
        header = f"docflow demo · {content.slug}"
        return make_docx(
            content.paragraphs, title=content.title, table=content.table, header=header
        )
    if fmt == "html":
        charset = "windows-1252" if variant % 2 else "utf-8"
        return _render_html(content, charset).encode(charset, "xmlcharrefreplace")
    if fmt == "csv":
        return _render_csv(content).encode()
    if fmt == "md":
        return _render_md(content).encode()
    text = "\n".join(_text_lines(content, 78)) + "\n"
    # Some text files carry a UTF-8 byte-order mark, as Windows editors write them.
    return text.encode("utf-8-sig" if variant % 3 == 2 else "utf-8")


def _broken_bytes(what: str, facts: _Facts) -> bytes:
    if what == "truncated-pdf":
        whole = make_pdf([facts.sentences(BUSINESS, 8)] * 3, title="Damaged scan")
        return whole[: len(whole) * 2 // 5]
    if what == "random-bytes-docx":
        # Starts with bytes no zip (so no DOCX) starts with, whatever the random tail.
        return b"\x00\x17" + facts.rng.randbytes(facts.rng.randint(2000, 6000))
    return b""


def _unique_word(rng: random.Random, number: int, width: int) -> str:
    # Letters then fixed-width digits: no marker can be a substring of another.
    return "".join(rng.choice(SYLLABLES) for _ in range(3)) + f"{number:0{width}d}"


def write_demo_corpus(
    directory: Path, count: int = 60, broken: int = 3, seed: int = 0
) -> list[DemoFile]:
    """Write `count` files into `directory`, `broken` of them damaged on purpose, and list them."""
    if count < 0 or not 0 <= broken <= count:
        raise ValueError("need count >= 0 and 0 <= broken <= count")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    broken_at = {int((k + 0.5) * count / broken) for k in range(broken)} if broken else set()
    width = max(3, len(str(count)))
    seen_formats: dict[str, int] = {}
    files: list[DemoFile] = []
    good = 0
    for number in range(count):
        # Seeded per file, so one file's randomness never shifts another's.
        rng = random.Random(f"docflow-demo:{seed}:{number}")
        facts = _Facts(rng)
        if number in broken_at:
            what, ext = BROKEN_KINDS[len([f for f in files if f.broken]) % len(BROKEN_KINDS)]
            path = directory / f"{number:0{width}d}-{what}.{ext}"
            path.write_bytes(_broken_bytes(what, facts))
            files.append(DemoFile(path, what, None, broken=True))
            continue
        kind = KINDS[good % len(KINDS)]
        fmt = FORMATS[kind][(good // len(KINDS)) % len(FORMATS[kind])]
        good += 1
        word = _unique_word(rng, number, width)
        content = WRITERS[kind](facts, word)
        variant = seen_formats[fmt] = seen_formats.get(fmt, -1) + 1
        path = directory / f"{number:0{width}d}-{kind}-{content.slug or kind}.{fmt}"
        path.write_bytes(_render(content, fmt, variant))
        files.append(DemoFile(path, kind, word, broken=False))
    return files


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m docflow.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "directory", type=Path, help="where to write the files (created if missing)"
    )
    parser.add_argument("--count", type=int, default=60, help="how many files in all")
    parser.add_argument("--broken", type=int, default=3, help="how many of them are damaged")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same documents")
    args = parser.parse_args(argv)
    files = write_demo_corpus(args.directory, args.count, min(args.broken, args.count), args.seed)
    by_kind = Counter(demo.kind for demo in files)
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(by_kind.items()))
    print(f"wrote {len(files)} files to {args.directory}: {summary}")


if __name__ == "__main__":
    main()


DEMO_KEY = "docflow-demo"  # the demo batch's idempotency key; each file's is DEMO_KEY:name


def upload_demo(client: httpx.Client, files: Sequence[DemoFile]) -> str:
    """Send the demo corpus as the batch "demo", once: the batch and each file carry an
    idempotency key, so the next `docflow serve --demo` finds them instead of adding copies.
    Returns the batch's id."""
    reply = client.post("/api/batches", json={"name": "demo"},
                        headers={"Idempotency-Key": DEMO_KEY})
    reply.raise_for_status()
    batch_id = str(reply.json()["batch_id"])
    parts = [("files", (f.path.name, f.path.read_bytes(), None,
                        {"Idempotency-Key": f"{DEMO_KEY}:{f.path.name}"})) for f in files]
    client.post(f"/api/batches/{batch_id}/files", files=parts).raise_for_status()
    return batch_id
