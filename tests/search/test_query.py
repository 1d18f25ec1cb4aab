"""How a query typed into the search box is read, once for both backends."""

from __future__ import annotations

import pytest

from docflow.search.query import MAX_NESTING, MAX_TERMS, Group, Occur, Terms, read_query

SHOULD, MUST, NOT = Occur.SHOULD, Occur.MUST, Occur.MUST_NOT


def word(text: str, field: str | None = None) -> Terms:
    return Terms((text,), field=field)


def phrase(*words: str, field: str | None = None) -> Terms:
    return Terms(words, field=field)


@pytest.mark.parametrize(("query", "clauses"), [
    ("late payment", [(SHOULD, word("late")), (SHOULD, word("payment"))]),
    ('"late payment" -draft', [(SHOULD, phrase("late", "payment")), (NOT, word("draft"))]),
    ("+late payment", [(MUST, word("late")), (SHOULD, word("payment"))]),
    ("late AND payment", [(MUST, word("late")), (MUST, word("payment"))]),
    ("invoice NOT draft", [(SHOULD, word("invoice")), (NOT, word("draft"))]),
    ("pay*", [(SHOULD, Terms(("pay",), prefix=True))]),
    ("Invoice*", [(SHOULD, Terms(("invoice",), prefix=True))]),
    ('filename:report text:"net 30"', [(SHOULD, word("report", "filename")),
                                        (SHOULD, phrase("net", "30", field="text"))]),
    ("filename: acme", [(SHOULD, word("acme", "filename"))]),
    # Hyphens and colons inside a word separate words (the phrase tier ranks them together).
    ("real-gas effects", [(SHOULD, word("real")), (SHOULD, word("gas")),
                          (SHOULD, word("effects"))]),
    # Signed, they are one phrase: "-e-mail" excludes e-mail, not every "e".
    ("contact -e-mail", [(SHOULD, word("contact")), (NOT, phrase("e", "mail"))]),
])
def test_the_syntax_reads_as_words_phrases_and_operators(query, clauses):
    assert list(read_query(query).root.clauses) == clauses


def test_and_binds_before_or_and_parentheses_group():
    assert read_query("(late OR overdue) AND payment").root == Group((
        (MUST, Group(((SHOULD, word("late")), (SHOULD, word("overdue"))))),
        (MUST, word("payment"))))
    assert read_query("late AND fee OR penalty").root == Group((
        (SHOULD, Group(((MUST, word("late")), (MUST, word("fee"))))),
        (SHOULD, word("penalty"))))


def test_a_question_is_searched_by_what_it_is_about_not_its_stop_words():
    reading = read_query("what are the structural problems of high speed aircraft?")

    assert [t.words for t in reading.ranked] == [
        ("structural",), ("problems",), ("high",), ("speed",), ("aircraft",)]
    # The phrase tier keeps the words in order, stop words too, but not at its ends.
    assert reading.phrase == ("structural", "problems", "of", "high", "speed", "aircraft")


def test_a_query_of_stop_words_only_keeps_them():
    assert [t.words for t in read_query("the who").ranked] == [("the",), ("who",)]


@pytest.mark.parametrize("query", ['"unclosed late payment', "((late payment", "late payment))",
                                   "late^2 payment~", "Re: late payment", "nosuchfield:late "
                                   "payment"])
def test_syntax_that_cannot_mean_anything_is_read_as_its_words(query):
    words = {w.lower() for t in read_query(query).ranked for w in t.words}
    assert {"late", "payment"} <= words


@pytest.mark.parametrize("query", ["", "   ", "*", "\x00"])
def test_a_blank_query_lists_everything(query):
    assert read_query(query).everything


@pytest.mark.parametrize("query", ["-", '""', "()", "+", "&& ||"])
def test_a_query_without_words_searches_nothing(query):
    reading = read_query(query)
    assert not reading.everything and not reading.root.clauses


def test_tiers_hold_for_two_or_more_words_and_exclusions_never_count():
    one = read_query("payment")
    assert not one.all_words and not one.phrase
    quoted = read_query('"late payment"')
    assert not quoted.all_words and not quoted.phrase  # every match already holds the phrase
    two = read_query("late payment -draft")
    assert two.all_words and two.phrase == ("late", "payment")
    assert [t.words for t in two.ranked] == [("late",), ("payment",)]
    assert not read_query("late pay*").phrase  # a prefix is no word of a phrase


def test_huge_and_deep_queries_are_bounded():
    many = read_query(" ".join(f"word{n}" for n in range(1000)))
    assert len(many.ranked) == MAX_TERMS
    deep = read_query("(" * 5000 + "zorblatt17" + ")" * 5000)
    assert [t.words for t in deep.ranked] == [("zorblatt17",)]

    def depth(node) -> int:
        return 1 + max((depth(c) for _, c in node.clauses), default=0) \
            if isinstance(node, Group) else 0

    assert depth(read_query("(-(" * 100 + "a b" + "))" * 100).root) <= MAX_NESTING + 1
