"""A user's own rules decide a document's type before any model does."""

from __future__ import annotations

import pytest

from docflow.pipeline.classify import (
    DEFAULT_DOC_TYPES,
    DocType,
    DocumentClassifier,
    InvalidRule,
    MatchKind,
    MatchRule,
)

UTILITY_BILL = """Northern Power & Light
Your electricity bill for March 2024
Account 55-1234   Meter reading: 45123 kWh
Amount to pay: £84.20 by direct debit on 2 April 2024."""


@pytest.mark.parametrize(
    ("rule", "matches"),
    [
        (MatchRule(MatchKind.ANY, "gas electricity water"), True),
        (MatchRule(MatchKind.ANY, "gas water"), False),
        (MatchRule(MatchKind.ALL, "electricity meter kwh"), True),
        (MatchRule(MatchKind.ALL, "electricity gas"), False),
        (MatchRule(MatchKind.ANY, '"direct debit" cheque'), True),  # a quoted phrase is one term
        (MatchRule(MatchKind.PHRASE, "electricity bill"), True),
        (MatchRule(MatchKind.PHRASE, "bill electricity"), False),
        (MatchRule(MatchKind.PHRASE, "power & light"), True),
        (MatchRule(MatchKind.REGEX, r"Account \d\d-\d{4}"), True),
        (MatchRule(MatchKind.REGEX, r"Account \d{6}"), False),
        (MatchRule(MatchKind.FUZZY, "Nothern Power and Light"), True),  # typos forgiven
        (MatchRule(MatchKind.FUZZY, "Southern Water Services"), False),
    ],
)
def test_each_kind_of_rule(rule: MatchRule, matches: bool) -> None:
    assert rule.matches(UTILITY_BILL) is matches


def test_words_match_whole_words_and_ignore_case_unless_asked() -> None:
    assert not MatchRule(MatchKind.ANY, "meter").matches("the parameters were set")
    assert MatchRule(MatchKind.ANY, "METER").matches("a meter reading")
    assert not MatchRule(MatchKind.ANY, "METER", case_sensitive=True).matches("a meter reading")


def test_a_phrase_broken_across_lines_still_matches() -> None:
    assert MatchRule(MatchKind.PHRASE, "electricity bill").matches("your electricity\n  bill")


def test_rules_that_can_never_run_are_refused_when_saved() -> None:
    with pytest.raises(InvalidRule) as error:
        MatchRule(MatchKind.REGEX, "Account (\\d+")
    assert error.value.code == "invalid_rule"
    assert error.value.message.endswith(".")
    with pytest.raises(InvalidRule):
        MatchRule(MatchKind.ANY, "   ")
    with pytest.raises(ValueError):
        MatchRule("sometimes", "x")  # type: ignore[arg-type]


def test_a_users_type_with_a_rule_wins_over_keywords() -> None:
    utility = DocType(
        "utility_bill",
        "A bill for electricity, gas or water.",
        ["kwh", "meter reading"],
        rules=(MatchRule(MatchKind.ANY, "electricity gas water"),),
    )
    classifier = DocumentClassifier([*DEFAULT_DOC_TYPES, utility])
    result = classifier.classify(UTILITY_BILL)
    assert (result.doc_type, result.decider, result.confidence) == ("utility_bill", "user_rules", 1)


def test_when_rules_of_two_types_match_the_other_deciders_choose_between_them() -> None:
    invoice_rule = MatchRule(MatchKind.ANY, "pay")
    letter_rule = MatchRule(MatchKind.ANY, "pay")
    types = [
        DocType("invoice", "A bill.", {"invoice": 3, "amount due": 3}, rules=(invoice_rule,)),
        DocType("letter", "A letter.", {"dear": 3, "sincerely": 3}, rules=(letter_rule,)),
    ]
    result = DocumentClassifier(types).classify("INVOICE 7. Amount due: please pay £10.")
    assert result.doc_type == "invoice"
    assert result.decider.startswith("user_rules+")
    assert result.confidence >= 0.9


def test_types_are_plain_data_with_keywords_as_a_list_or_weights() -> None:
    from_form = DocType("recipe", "Cooking instructions.", ["preheat", "tablespoon"])
    assert dict(from_form.keywords) == {"preheat": 2.0, "tablespoon": 2.0}
    weighted = DocType("recipe", "Cooking instructions.", {"preheat": 3})
    assert weighted.keywords["preheat"] == 3


def test_unsure_answers_are_flagged_for_review_and_rules_never_are() -> None:
    classifier = DocumentClassifier()
    sure = classifier.classify(
        "INVOICE\nInvoice number: 7\nBill to: Contoso\nAmount due: $40.00\nPayment terms: net 30"
    )
    unsure = classifier.classify("The quick brown fox jumps over the lazy dog.")
    assert not classifier.needs_review(sure)
    assert unsure.doc_type == "other" or classifier.needs_review(unsure)
    ruled = DocumentClassifier(
        [DocType("memo", "", rules=(MatchRule(MatchKind.ANY, "fox"),))]
    ).classify("The quick brown fox.")
    assert ruled.decider == "user_rules" and not classifier.needs_review(ruled)


def test_a_regex_that_backtracks_without_end_gives_up_instead_of_hanging_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import time

    hostile = MatchRule(MatchKind.REGEX, r"(a+)+$")  # exponential on "aaa...a!" in plain re
    text = "a" * 20_000 + "!"
    started = time.monotonic()
    with caplog.at_level("WARNING", logger="docflow.pipeline.classify.matching"):
        assert hostile.matches(text) is False
        result = DocumentClassifier(
            [*DEFAULT_DOC_TYPES, DocType("trap", "", rules=(hostile,))]
        ).classify(text)
    assert time.monotonic() - started < 5  # two searches at 0.1 s each, with slack
    assert result.doc_type != "trap"
    assert "(a+)+$" in caplog.text and "no match" in caplog.text
    assert MatchRule(MatchKind.REGEX, r"(a+)+$").matches("aaaa")  # a fair input still matches


def test_a_regex_rule_reads_python_syntax_and_honours_case() -> None:
    named = MatchRule(MatchKind.REGEX, r"(?P<po>PO-\d{6})\b")
    assert named.matches("see po-123456 attached")
    assert not MatchRule(MatchKind.REGEX, r"PO-\d{6}", case_sensitive=True).matches("po-123456")
    with pytest.raises(InvalidRule):
        MatchRule(MatchKind.REGEX, "[z-a]")


# A regex that backtracks for longer than REGEX_TIMEOUT_S on any ordinary prose.
SLOW_REGEX = r"(.|\w)*\d{4}"
PROSE = "Dear Sir, thank you for your letter of the fourth. We will reply soon. " * 200


def _slow_types(count: int) -> list[DocType]:
    # Each pattern differs (a distinct optional tail), so no cache can make them cheap.
    return [DocType(f"slow_{i}", rules=(MatchRule(MatchKind.REGEX,
                                                  f"{SLOW_REGEX}(?:Z{{0,{i}}})"),))
            for i in range(count)]


def test_many_slow_rules_share_one_budget_per_document(caplog: pytest.LogCaptureFixture) -> None:
    slow = _slow_types(300)
    classifier = DocumentClassifier([*DEFAULT_DOC_TYPES, *slow], rules_budget_seconds=0.5)
    with caplog.at_level("WARNING", logger="docflow.pipeline.classify.matching"):
        result = classifier.classify(PROSE)
    assert result.decider != "user_rules"
    budget = [r.getMessage() for r in caplog.records if "past their budget" in r.getMessage()]
    assert len(budget) == 1  # once per document, naming the types whose rules were skipped
    # Each slow rule may take at most 0.1 s, so at most 0.5 / 0.1 (+1 cut short) ran.
    assert "slow_299" in budget[0] and "slow_0," not in budget[0]


def test_the_budget_counts_the_rules_run_and_names_those_skipped() -> None:
    from docflow.pipeline.classify.matching import match_types

    ticks = iter(range(100))  # a clock that advances one second per reading
    typed = [(f"t{i}", (MatchRule(MatchKind.ANY, "absent"),)) for i in range(10)]
    verdict = match_types(typed, PROSE, budget_seconds=3, clock=lambda: next(ticks))
    assert verdict.rules_run == 2 and verdict.matched == ()
    assert verdict.skipped == tuple(f"t{i}" for i in range(2, 10))


def test_a_matching_rule_within_the_budget_still_decides() -> None:
    slow = _slow_types(30)
    letter = DocType("our_letter", rules=(MatchRule(MatchKind.PHRASE, "letter of the fourth"),))
    result = DocumentClassifier([letter, *slow], rules_budget_seconds=0.3).classify(PROSE)
    assert (result.doc_type, result.decider) == ("our_letter", "user_rules")


def test_rule_limits_refuse_too_many_rules_and_overlong_patterns() -> None:
    from docflow.pipeline.classify.matching import RuleLimits

    limits = RuleLimits(max_rules_per_type=100, max_pattern_chars=50)
    limits.check(["a"] * 100)
    with pytest.raises(InvalidRule, match="at most 100 rules"):
        limits.check(["a"] * 101)
    with pytest.raises(InvalidRule, match="at most 50 characters"):
        limits.check(["a" * 51])
    rules = [MatchRule(MatchKind.ANY, f"w{i}") for i in range(120)]
    assert len(limits.trim("t", [MatchRule(MatchKind.ANY, "x" * 60), *rules])) == 100
