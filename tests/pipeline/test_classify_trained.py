"""The classifier learns the user's own types from labelled documents, and keeps its version."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from docflow.pipeline.classify import (
    DEFAULT_DOC_TYPES,
    DocType,
    DocumentClassifier,
    ModelUnreadable,
    NotEnoughLabels,
    TrainedClassifier,
)

_WORDS = {
    "payslip": ["gross pay", "net pay", "national insurance", "tax code", "employer",
                "pay period", "deductions", "pension contribution"],
    "recipe": ["preheat the oven", "tablespoon", "stir", "simmer", "serves four",
               "chopped onion", "season with salt", "bake for"],
    "boarding_pass": ["gate", "boarding time", "seat", "flight", "departure", "terminal",
                      "passenger", "zone"],
}


def documents(per_type: int, seed: int) -> list[tuple[str, str]]:
    """Short made-up documents: a few telling phrases of the type among common filler."""
    rng = random.Random(seed)
    filler = ["the", "and", "for", "with", "please", "date", "name", "number", "total", "page"]
    out = []
    for label, phrases in _WORDS.items():
        for _ in range(per_type):
            words = rng.sample(phrases, 4) + rng.sample(filler, 6)
            rng.shuffle(words)
            out.append((" ".join(words) + f" {rng.randint(1, 999)}", label))
    return out


@pytest.fixture(scope="module")
def model() -> TrainedClassifier:
    texts, labels = zip(*documents(per_type=20, seed=1), strict=True)
    return TrainedClassifier.fit(list(texts), list(labels), version="v1")


def test_it_learns_types_it_has_never_heard_of(model: TrainedClassifier) -> None:
    held_out = documents(per_type=10, seed=2)
    right = sum(model.probabilities([text])[0][0].doc_type == label for text, label in held_out)
    assert right / len(held_out) >= 0.9
    ranked = model.probabilities(["preheat the oven to 200 and simmer the chopped onion"])[0]
    assert ranked[0].doc_type == "recipe"
    assert abs(sum(p.probability for p in ranked) - 1) < 0.01
    assert model.labels == ("boarding_pass", "payslip", "recipe")


def test_a_saved_model_loads_back_with_its_version_and_the_same_answers(
    model: TrainedClassifier, tmp_path: Path
) -> None:
    saved = model.save(tmp_path / "classifier" / "v1")
    loaded = TrainedClassifier.load(saved)
    assert (loaded.version, loaded.trained_on, loaded.labels) == ("v1", 60, model.labels)
    assert loaded.label_counts == {"boarding_pass": 20, "payslip": 20, "recipe": 20}
    for text, _ in documents(per_type=3, seed=3):
        assert loaded.probabilities([text]) == model.probabilities([text])
    assert not any(path.suffix in (".pkl", ".pickle", ".joblib") for path in saved.iterdir())


def test_saving_again_replaces_the_model_whole(model: TrainedClassifier, tmp_path: Path) -> None:
    target = tmp_path / "current"
    model.save(target)
    texts, labels = zip(*documents(per_type=5, seed=4), strict=True)
    TrainedClassifier.fit(list(texts), list(labels), version="v2").save(target)
    assert TrainedClassifier.load(target).version == "v2"
    assert [p.name for p in tmp_path.iterdir()] == ["current"]  # no staging folder left behind


def test_without_a_version_one_is_made_from_the_time_and_the_data() -> None:
    texts, labels = zip(*documents(per_type=3, seed=5), strict=True)
    first = TrainedClassifier.fit(list(texts), list(labels))
    second = TrainedClassifier.fit(list(texts), list(labels[::-1]))
    assert first.version != second.version
    assert len(first.version.split("-")[-1]) == 8


def test_training_needs_two_types_and_words_to_learn_from() -> None:
    with pytest.raises(NotEnoughLabels) as error:
        TrainedClassifier.fit(["a receipt", "another receipt"], ["receipt", "receipt"])
    assert error.value.code == "not_enough_labels"
    with pytest.raises(NotEnoughLabels):
        TrainedClassifier.fit(["1", "2"], ["a", "b"])


def test_a_missing_or_damaged_model_is_reported_not_crashed_on(
    model: TrainedClassifier, tmp_path: Path
) -> None:
    with pytest.raises(ModelUnreadable):
        TrainedClassifier.load(tmp_path / "nothing-here")
    saved = model.save(tmp_path / "m")
    (saved / "weights.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelUnreadable) as error:
        TrainedClassifier.load(saved)
    assert error.value.code == "model_unreadable"
    meta = json.loads((saved / "meta.json").read_text())
    (saved / "meta.json").write_text(json.dumps({**meta, "format": 99}))
    with pytest.raises(ModelUnreadable, match="format 99"):
        TrainedClassifier.load(saved)


def test_confident_predictions_are_made_by_the_model_and_carry_its_version(
    model: TrainedClassifier,
) -> None:
    types = [*DEFAULT_DOC_TYPES, *(DocType(name, name) for name in _WORDS)]
    classifier = DocumentClassifier(types, trained=model)
    result = classifier.classify("gross pay net pay tax code deductions employer pay period")
    assert (result.doc_type, result.decider, result.model_version) == ("payslip", "trained", "v1")
    assert result.scores[0][0] == "payslip"


def test_a_type_the_model_was_never_taught_is_still_found_by_its_keywords(
    model: TrainedClassifier,
) -> None:
    types = [*DEFAULT_DOC_TYPES, *(DocType(name, name) for name in _WORDS)]
    classifier = DocumentClassifier(types, trained=model)
    invoice = ("INVOICE\nInvoice number: 12\nBill to: Contoso\nAmount due: $40.00\n"
               "Payment terms: net 30. Please remit to IBAN below.")
    result = classifier.classify(invoice)
    assert (result.doc_type, result.decider) == ("invoice", "keywords")


def test_a_type_the_user_deleted_is_never_predicted(model: TrainedClassifier) -> None:
    types = [*DEFAULT_DOC_TYPES, DocType("payslip", "A payslip.")]  # recipe was deleted
    classifier = DocumentClassifier(types, trained=model)
    result = classifier.classify("preheat the oven, stir, simmer, serves four, tablespoon")
    assert result.doc_type != "recipe"
