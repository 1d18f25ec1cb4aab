"""Document-type classification quality on the shared datasets: zero-shot, trained, baseline.

    .venv/bin/python bench/eval_classify.py                      # doctype_composite, bbc_news
    .venv/bin/python bench/eval_classify.py --no-zero-shot       # skip the embedding model
    .venv/bin/python bench/eval_classify.py --cache-dir DIR      # where the ONNX model is kept

Each dataset's train.jsonl is split once, the same way on every run: per label, documents are
ordered by the SHA-1 of their id and the first 30% are the test set. On that split, macro-F1
and accuracy of:
- keywords      docflow's built-in keyword weights (no training, no model);
- zero-shot     all-MiniLM-L6-v2 embeddings (onnxruntime) of the document against each type's
                name, description and keywords; "+kw" mixes in the keyword evidence (that is
                docflow's zero-shot decider); without "+kw", the embeddings alone;
- trained       docflow's TrainedClassifier (TF-IDF words+pairs, logistic regression);
- paperless     a reimplementation of paperless-ngx's classifier: its text preprocessing
                (lower case, punctuation to spaces; no NLTK), CountVectorizer 1-2-grams with
                min_df=0.01, MLPClassifier(tol=0.01), fitted on the same training documents.
Types for doctype_composite are docflow's default types restricted to the dataset's labels
(scientific_abstract uses scientific_paper's description); for bbc_news, five topic types
written below, as a user would. Skips cleanly when ../shared/datasets is absent.

The "other" cutoff: each type in turn is held out (no training documents, no type of that
name), and the classifier (DocumentClassifier: trained model, then keywords) sorts the test
documents of every type. The held-out type's documents should come out as "other", the rest as
their type. Per cutoff, pooled over the held-out rounds: precision and recall of "other" and
the accuracy on the known types' documents. Cutoffs: the trained model's `trained_min`
(answers less sure fall through to keywords, which say "other" below their own cutoff) and,
for a classifier without a trained model, the keyword score below which the answer is
"other" (rules.MIN_SCORE).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from docflow.pipeline import Limits, detect, extract  # noqa: E402
from docflow.pipeline.classify import (  # noqa: E402
    DEFAULT_DOC_TYPES,
    OTHER,
    DocType,
    DocumentClassifier,
    EmbeddingModelMissing,
    RulesClassifier,
    SentenceEncoder,
    Thresholds,
    TrainedClassifier,
    ZeroShotClassifier,
)
from docflow.pipeline.classify.rules import MIN_SCORE  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
TEST_SHARE = 0.3

BBC_TYPES = (
    DocType("business", "News about companies, markets, the economy, trade and finance.",
            ["company", "shares", "economy", "market", "profits", "bank", "growth", "sales"]),
    DocType("entertainment", "News about films, music, television, celebrities and the arts.",
            ["film", "music", "actor", "singer", "award", "album", "show", "star"]),
    DocType("politics", "News about government, elections, parties, ministers and parliament.",
            ["government", "election", "minister", "party", "labour", "tory", "mp",
             "parliament"]),
    DocType("sport", "News about sports: football, rugby, tennis, athletics, matches, players.",
            ["match", "team", "player", "football", "coach", "win", "cup", "champion"]),
    DocType("tech", "News about technology: computers, the internet, software, phones, games.",
            ["technology", "software", "internet", "computer", "mobile", "games", "digital",
             "users"]),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "docflow-bench-models")
    parser.add_argument("--no-zero-shot", action="store_true")
    parser.add_argument("--no-other", action="store_true",
                        help="skip the held-out-type evaluation of the 'other' cutoff")
    args = parser.parse_args()
    if not args.datasets.is_dir():
        print(f"skipped: {args.datasets} is absent")
        return 0
    encoder = None
    if not args.no_zero_shot:
        try:
            started = time.process_time()
            encoder = SentenceEncoder(args.cache_dir)
            print(f"embedding model ready in {time.process_time() - started:.1f} CPU-s "
                  f"({encoder.version}, cache {args.cache_dir})")
        except EmbeddingModelMissing as error:
            print(f"zero-shot skipped: {error.message}")
    for name, types in (("doctype_composite", _doctype_types), ("bbc_news", lambda _: BBC_TYPES)):
        path = args.datasets / name / "train.jsonl"
        if not path.is_file():
            print(f"\n{name}: skipped (absent)")
            continue
        rows = _load(path)
        print(evaluate(name, rows, types(rows), encoder))
        if not args.no_other:
            print(evaluate_other(name, rows, types(rows)))
    return 0


def evaluate(name: str, rows: list[dict], doc_types, encoder: SentenceEncoder | None) -> str:
    train, test = split(rows)
    y_true = [row["label"] for row in test]
    labels = sorted(set(y_true))
    results: list[tuple[str, list[str], float, float]] = []  # name, predictions, fit s, docs/s

    keywords = RulesClassifier(doc_types)
    predictions, rate = _timed(lambda text: _best(keywords.scores(text)), test)
    results.append(("keywords", predictions, 0.0, rate))

    if encoder is not None:
        zero_shot = ZeroShotClassifier(doc_types, encoder)
        started = time.process_time()
        embeddings = encoder.embed([row["text"] for row in test])
        embed_rate = len(test) / (time.process_time() - started)
        only_embeddings = [_best(zero_shot.similarities(vector)) for vector in embeddings]
        results.append(("zero-shot", only_embeddings, 0.0, embed_rate))
        mixed = [
            max(probabilities.items(), key=lambda item: item[1])[0]
            for probabilities in (zero_shot.probabilities(row["text"], vector)
                                  for row, vector in zip(test, embeddings, strict=True))
        ]
        results.append(("zero-shot+kw", mixed, 0.0, embed_rate))

    started = time.process_time()
    model = TrainedClassifier.fit([r["text"] for r in train], [r["label"] for r in train])
    fit_s = time.process_time() - started
    predictions, rate = _timed(lambda text: model.probabilities([text])[0][0].doc_type, test)
    results.append(("trained", predictions, fit_s, rate))

    started = time.process_time()
    baseline = PaperlessClassifier().fit([r["text"] for r in train], [r["label"] for r in train])
    fit_s = time.process_time() - started
    predictions, rate = _timed(baseline.predict, test)
    results.append(("paperless", predictions, fit_s, rate))

    counts = defaultdict(int)
    for row in test:
        counts[row["label"]] += 1
    lines = [
        f"\n{name}: {len(train)} train / {len(test)} test documents, {len(labels)} types "
        f"(test: {', '.join(f'{label} {counts[label]}' for label in labels)})",
        f"{'method':<14}{'macro-F1':>9}{'accuracy':>10}{'fit CPU-s':>11}{'docs/CPU-s':>12}",
    ]
    for method, predicted, fit_s, rate in results:
        f1 = macro_f1(y_true, predicted, labels)
        accuracy = sum(p == t for p, t in zip(predicted, y_true, strict=True)) / len(y_true)
        lines.append(f"{method:<14}{f1:9.3f}{accuracy:10.3f}{fit_s:11.1f}{rate:12,.0f}")
    return "\n".join(lines)


TRAINED_CUTOFFS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
KEYWORD_CUTOFFS = (1.0, 2.0, 3.0, 3.5, 4.5, 6.0)


def evaluate_other(name: str, rows: list[dict], doc_types) -> str:
    """Precision/recall of "other" on a type the classifier was never given, per cutoff."""
    train, test = split(rows)
    labels = sorted({row["label"] for row in rows})
    trained = {cutoff: _OtherCounts() for cutoff in TRAINED_CUTOFFS}
    keywords = {cutoff: _OtherCounts() for cutoff in KEYWORD_CUTOFFS}
    started = time.process_time()
    for unknown in labels:
        known_types = [doc_type for doc_type in doc_types if doc_type.name != unknown]
        kept = [row for row in train if row["label"] != unknown]
        model = TrainedClassifier.fit([r["text"] for r in kept], [r["label"] for r in kept])
        rules = RulesClassifier(known_types)
        for cutoff, counts in trained.items():
            classifier = DocumentClassifier(known_types, trained=model,
                                            thresholds=Thresholds(trained_min=cutoff))
            for row in test:
                counts.add(row["label"], unknown, classifier.classify(row["text"]).doc_type)
        for row in test:
            scores = rules.scores(row["text"])
            best = _best(scores)
            for cutoff, counts in keywords.items():
                counts.add(row["label"], unknown, OTHER if scores[best] < cutoff else best)
    lines = [
        f"\n{name}: 'other' on a held-out type ({len(labels)} rounds, each type held out once; "
        f"{time.process_time() - started:.0f} CPU-s)",
        f"{'classifier':<26}{'cutoff':>7}{'other P':>9}{'other R':>9}{'other F1':>9}"
        f"{'known acc':>11}",
    ]
    default = Thresholds().trained_min
    for title, table, chosen in (("trained + keywords", trained, default),
                                 ("keywords only (score <)", keywords, MIN_SCORE)):
        for cutoff, counts in table.items():
            p, r, f, accuracy = counts.scores()
            mark = "  <- default" if cutoff == chosen else ""
            lines.append(f"{title:<26}{cutoff:7.2f}{p:9.3f}{r:9.3f}{f:9.3f}{accuracy:11.3f}{mark}")
    return "\n".join(lines)


class _OtherCounts:
    """Counts for "other": held-out documents are its positives; known ones must keep their type."""

    def __init__(self) -> None:
        self.true_other = self.said_other = self.unknown = 0
        self.known = self.known_right = 0

    def add(self, label: str, unknown: str, predicted: str) -> None:
        if label == unknown:
            self.unknown += 1
            self.true_other += predicted == OTHER
        else:
            self.known += 1
            self.known_right += predicted == label
        self.said_other += predicted == OTHER

    def scores(self) -> tuple[float, float, float, float]:
        p = self.true_other / self.said_other if self.said_other else 0.0
        r = self.true_other / self.unknown if self.unknown else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f, self.known_right / self.known if self.known else 0.0


class PaperlessClassifier:
    """paperless-ngx's document-type classifier (documents/classifier.py), NLTK step off."""

    def fit(self, texts: list[str], labels: list[str]) -> PaperlessClassifier:
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.neural_network import MLPClassifier

        self.vectorizer = CountVectorizer(analyzer="word", ngram_range=(1, 2), min_df=0.01)
        features = self.vectorizer.fit_transform([_paperless_preprocess(t) for t in texts])
        self.model = MLPClassifier(tol=0.01, random_state=0)
        self.model.fit(features, labels)
        return self

    def predict(self, text: str) -> str:
        return str(self.model.predict(self.vectorizer.transform([_paperless_preprocess(text)]))[0])


def _paperless_preprocess(content: str) -> str:
    content = content.lower().strip()
    content = re.sub(r"\s+", " ", content)
    return re.sub(r"[^\w\s]", " ", content)


def split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Per label, the 30% of ids with the smallest SHA-1 are the test set: fixed forever."""
    by_label: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_label[row["label"]].append(row)
    train, test = [], []
    for label in sorted(by_label):
        ordered = sorted(by_label[label], key=lambda r: hashlib.sha1(r["id"].encode()).hexdigest())
        cut = max(1, round(TEST_SHARE * len(ordered)))
        test += ordered[:cut]
        train += ordered[cut:]
    return train, test


def macro_f1(y_true: list[str], y_pred: list[str], labels: list[str]) -> float:
    scores = []
    for label in labels:
        tp = sum(t == label and p == label for t, p in zip(y_true, y_pred, strict=True))
        fp = sum(t != label and p == label for t, p in zip(y_true, y_pred, strict=True))
        fn = sum(t == label and p != label for t, p in zip(y_true, y_pred, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def _doctype_types(rows: list[dict]) -> tuple[DocType, ...]:
    defaults = {doc_type.name: doc_type for doc_type in DEFAULT_DOC_TYPES}
    aliases = {"scientific_abstract": "scientific_paper"}
    labels = sorted({row["label"] for row in rows})
    types = []
    for label in labels:
        source = defaults[aliases.get(label, label)]
        types.append(DocType(label, source.description, source.keywords))
    return tuple(types)


def _best(scores: dict[str, float]) -> str:
    return max(scores.items(), key=lambda item: item[1])[0]


def _timed(predict, rows: list[dict]) -> tuple[list[str], float]:
    started = time.process_time()
    predictions = [predict(row["text"]) for row in rows]
    elapsed = time.process_time() - started
    return predictions, len(rows) / elapsed if elapsed else float("inf")


def _load(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    for row in rows:
        if not row.get("text") and row.get("path"):
            document = path.parent / row["path"]
            data = document.read_bytes()
            row["text"] = extract(data, detect(data, document.name, Limits()), Limits()).text
    return rows


if __name__ == "__main__":
    sys.exit(main())
