"""The document types docflow knows out of the box, each with the phrases that give it away.

A type is data: a name, a description, keywords and optional user rules. Names and descriptions
are shared by every classifier (the zero-shot one embeds name, description and keywords);
keyword weights are for the keyword classifier: 3 = nearly decisive, 1 = supporting evidence.
Keywords given as a plain list (as a user types them) weigh `DEFAULT_KEYWORD_WEIGHT` each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .matching import MatchRule

DEFAULT_KEYWORD_WEIGHT = 2.0


@dataclass(frozen=True)
class DocType:
    name: str
    description: str = ""
    # phrase -> weight; a plain list of phrases is accepted too (each DEFAULT_KEYWORD_WEIGHT)
    keywords: Mapping[str, float] = field(default_factory=dict)
    rules: tuple[MatchRule, ...] = ()  # a user's rules: any match assigns this type

    def __post_init__(self) -> None:
        keywords = self.keywords
        if not isinstance(keywords, Mapping):  # ["invoice", "bill to"] from a form or the API
            keywords = dict.fromkeys(keywords, DEFAULT_KEYWORD_WEIGHT)
        object.__setattr__(self, "keywords", MappingProxyType(dict(keywords)))
        object.__setattr__(self, "rules", tuple(self.rules))


OTHER = "other"

DEFAULT_DOC_TYPES: tuple[DocType, ...] = (
    DocType(
        "invoice",
        "A bill from a seller asking a buyer to pay for goods or services, with amounts due.",
        {
            "invoice": 3, "tax invoice": 2.5, "invoice number": 3, "invoice no": 3, "invoice #": 3,
            "invoice date": 3, "bill to": 3, "billed to": 2.5, "ship to": 1.5, "amount due": 3,
            "balance due": 3, "total due": 2.5, "due date": 2, "payment due": 2,
            "payment terms": 2, "net 30": 2, "net 15": 2, "remit to": 2.5, "please remit": 2.5,
            "vat": 1.5, "vat number": 2, "vat no": 2, "vat reg": 2, "subtotal": 1.5,
            "unit price": 2, "qty": 1, "quantity": 1, "purchase order": 1.5, "po number": 1.5,
            "iban": 1.5, "bic": 1, "swift": 1, "bank details": 1.5, "payable": 1,
            "customer id": 1, "account number": 1, "facture": 2, "rechnung": 2,
        },
    ),
    DocType(
        "receipt",
        "Proof of a payment already made at a shop, restaurant or online, listing items paid.",
        {
            "receipt": 3, "sales receipt": 3, "payment receipt": 3, "cash": 2, "change": 1.25,
            "change due": 3, "tendered": 2.5, "amount tendered": 3, "cashier": 3, "total": 0.5,
            "cash sales": 3, "total qty": 2.5, "round adj": 2.5, "rounding": 2, "qty": 1,
            "gst summary": 2.5, "grand total": 1, "service charge": 1.5, "goods sold": 2,
            "not returnable": 2.5, "no refund": 2,
            "subtotal": 1, "thank you for your purchase": 3, "thank you for shopping": 3,
            "thank you for your order": 2, "thank you": 1, "please come again": 3,
            "card ending": 2, "auth code": 2, "approval code": 2, "visa": 1, "mastercard": 1,
            "debit": 1, "store": 0.5, "terminal": 0.5, "paid": 1, "tip": 0.5,
            "gratuity": 1.5, "return policy": 1.5, "items sold": 2.5,
        },
    ),
    DocType(
        "contract",
        "A legal agreement between parties setting out obligations, terms and signatures.",
        {
            "agreement": 2.5, "this agreement": 3, "hereinafter": 3, "party": 1, "parties": 1.5,
            "the parties": 2, "governing law": 3, "in witness whereof": 3, "witness whereof": 3,
            "whereas": 2.5, "indemnify": 2, "indemnification": 2, "termination": 1.5,
            "confidentiality": 1.5, "shall": 1, "effective date": 2, "jurisdiction": 1.5,
            "warranties": 1.5, "liability": 1, "hereto": 2, "hereby": 1, "herein": 1.5,
            "thereof": 1, "contractor": 1.5, "lessee": 2, "lessor": 2, "tenant": 1.5,
            "landlord": 1.5, "non-disclosure": 2.5, "force majeure": 2.5, "arbitration": 1.5,
            "severability": 2.5, "entire agreement": 2.5, "binding": 1, "obligations": 1,
            "terms and conditions": 1, "signed": 0.5, "duly authorized": 2.5,
        },
    ),
    DocType(
        "letter",
        "A formal or personal letter addressed to someone, with a salutation and a sign-off.",
        {
            "dear": 2.5, "sincerely": 3, "yours sincerely": 3, "yours faithfully": 3,
            "yours truly": 3, "kind regards": 2, "best regards": 1.5, "warm regards": 2,
            "regards": 1, "enclosed": 1.5, "enclosure": 1.5, "enc.": 1.5, "i am writing": 2.5,
            "to whom it may concern": 3, "please do not hesitate": 2,
            "look forward to hearing": 2, "thank you for your letter": 3, "cc:": 0.5,
        },
    ),
    DocType(
        "email",
        "An e-mail message or thread, with From, To, Subject and Sent headers.",
        {
            "from:": 2.5, "to:": 1.5, "subject:": 3, "sent:": 2.5, "cc:": 2, "bcc:": 2.5,
            "date:": 0.5, "reply-to:": 3, "message-id:": 3, "mime-version:": 3,
            "content-type:": 2, "forwarded message": 3, "original message": 3, "wrote:": 2,
            "sent from my": 3, "unsubscribe": 1.5, "re:": 1, "fw:": 1.5, "fwd:": 1.5,
            "attachments:": 2, "importance:": 2,
        },
    ),
    DocType(
        "form",
        "A form to fill in: labelled blanks, checkboxes, applicant details and a signature line.",
        {
            "please complete": 2.5, "please fill": 2.5, "fill out": 2, "fill in": 1.5,
            "application form": 3, "registration form": 3, "form": 1.5, "date of birth": 2,
            "applicant": 2, "check one": 2.5, "check all that apply": 3, "tick": 1,
            "office use only": 3, "for official use": 3, "print name": 2.5, "please print": 2.5,
            "block capitals": 2.5, "required field": 2, "first name": 1.5, "last name": 1.5,
            "surname": 1, "zip code": 1, "postal code": 1, "social security number": 2,
            "signature of applicant": 3, "signature": 1, "☐": 2, "yes / no": 2, "mm/dd/yyyy": 2,
            "dd/mm/yyyy": 2, "omb no": 3,
        },
    ),
    DocType(
        "resume",
        "A CV or résumé describing a person's work experience, education and skills.",
        {
            "resume": 2.5, "résumé": 3, "curriculum vitae": 3, "cv": 1.5, "experience": 1,
            "work experience": 3, "professional experience": 3, "employment history": 3,
            "work history": 3, "education": 1.5, "skills": 1.5, "technical skills": 2.5,
            "key skills": 2.5, "certifications": 1.5, "references available": 3,
            "objective": 1, "career objective": 3, "professional summary": 3,
            "languages": 1, "bachelor": 1.5, "master of": 1, "gpa": 2, "linkedin": 2,
            "github": 1, "proficient in": 2, "responsibilities": 1, "achievements": 1,
            "volunteer": 1, "present": 0.5, "internship": 1.5, "hobbies": 2, "interests": 1,
            "core competencies": 3, "key competencies": 3, "areas of expertise": 2.5,
            "expertise": 1, "communication skills": 2.5, "interpersonal skills": 2.5,
            "soft skills": 2.5, "team player": 2.5, "quick learner": 2.5, "personal details": 2.5,
            "marital status": 2.5, "nationality": 1.5, "years of experience": 2, "b.tech": 2,
            "m.tech": 2, "mba": 1.5, "b.sc": 1.5, "m.sc": 1.5, "diploma": 1, "education details": 3,
            "skill details": 3, "employment": 1, "career": 1,
        },
    ),
    DocType(
        "scientific_paper",
        "A research article: abstract, methods, results, discussion and cited references.",
        {
            "abstract": 2.5, "introduction": 1.5, "references": 1.5, "et al.": 3, "methods": 1.5,
            "methodology": 1.5, "results": 1, "discussion": 1, "conclusion": 1,
            "conclusions": 1.5, "related work": 3, "experiments": 1.5, "experimental": 1,
            "hypothesis": 1.5, "doi": 2, "arxiv": 3, "keywords": 1.5, "fig.": 2, "figure": 1,
            "acknowledgements": 2.5, "acknowledgments": 2.5, "literature": 1, "proceedings": 2,
            "journal": 1.5, "university": 1, "we propose": 3, "in this paper": 3,
            "this study": 2, "dataset": 1, "statistically significant": 2.5, "preprint": 2.5,
            "corresponding author": 3, "state of the art": 1.5, "this paper": 2.5,
            "present paper": 2.5, "we show": 2.5, "we present": 2.5, "it is shown": 2.5,
            "is shown": 1.5, "are presented": 1.5, "is presented": 1.5, "is investigated": 2,
            "are investigated": 2, "investigation": 1, "theory": 1, "theoretical": 1.5,
            "equation": 1, "equations": 1.5, "numerical": 1, "coefficient": 1,
            "coefficients": 1, "parameters": 1, "approximate": 1, "solutions": 1,
            "experimentally": 1.5, "empirical": 1, "analytical": 1.5, "respectively": 1.5,
            "correlation": 1, "derived": 1,
        },
    ),
    DocType(
        "news_article",
        "A news story reporting recent events, quoting officials and sources.",
        {
            "reported": 1.5, "according to": 2, "said": 1.5, "said on": 2.5, "says": 1, "told": 1,
            "told reporters": 3,
            "spokesperson": 2, "spokesman": 2, "spokeswoman": 2, "reuters": 3,
            "associated press": 3, "breaking news": 3, "correspondent": 2, "officials": 1.5,
            "in a statement": 2.5, "told the": 2, "press conference": 2, "staff writer": 3,
            "news": 1.5, "editor": 1, "sources": 1, "minister": 1.5, "president": 1,
            "police": 1, "government": 1, "on monday": 1, "on tuesday": 1, "on wednesday": 1,
            "on thursday": 1, "on friday": 1, "on saturday": 1, "on sunday": 1,
            "last week": 1, "published": 1, "updated": 1, "announced": 1, "year-old": 2,
            "told the bbc": 3, "bbc news": 3, "analysts": 1.5, "mr": 0.5, "mrs": 0.5,
            "shares": 0.5, "per cent": 1,
        },
    ),
    DocType(
        "report",
        "A business or technical report: summary, findings, analysis and recommendations.",
        {
            "report": 2, "annual report": 3, "status report": 3, "progress report": 3,
            "executive summary": 3, "summary": 1, "findings": 2, "key findings": 3,
            "recommendations": 2, "quarterly": 2, "fiscal year": 2, "performance": 1,
            "overview": 1, "analysis": 1, "key highlights": 2.5, "highlights": 1,
            "table of contents": 2, "appendix": 1.5, "prepared by": 2, "prepared for": 2,
            "kpi": 1.5, "objectives": 1, "revenue": 1, "year over year": 2, "year-over-year": 2,
            "scope": 1, "background": 1, "next steps": 1.5, "risks": 1,
        },
    ),
)
