"""Build an ONNX graph of a BERT sentence encoder straight from its safetensors weights.

No torch: the safetensors file is read with numpy and the graph is written node by node with
`onnx.helper`, so conversion needs only the `onnx` package, once, and onnxruntime runs the result.
The graph takes `input_ids` and `attention_mask` ([batch, tokens], int64) and returns
`sentence_embedding` [batch, hidden]: mean pooling over real tokens, then L2 normalisation,
as sentence-transformers' all-MiniLM-L6-v2 (Transformer -> Pooling(mean) -> Normalize) does.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np

OPSET = 17  # first opset with LayerNormalization, which onnxruntime runs as one kernel
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a .safetensors file: an 8-byte header length, a JSON header, raw buffers."""
    with open(path, "rb") as file:
        (header_len,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(header_len))
        data = file.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=_DTYPES[info["dtype"]])
        tensors[name] = array.reshape(info["shape"])
    return tensors


def build_bert_encoder(model_dir: Path, out_path: Path) -> None:
    """Write `model_dir`'s BERT (config.json + model.safetensors) as a pooled ONNX encoder."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    config = json.loads((model_dir / "config.json").read_text())
    weights = {
        name.removeprefix("bert."): value
        for name, value in read_safetensors(model_dir / "model.safetensors").items()
    }
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config.get("layer_norm_eps", 1e-12))
    if config.get("hidden_act", "gelu") != "gelu":
        raise ValueError(f"unsupported activation {config['hidden_act']!r}")

    nodes: list = []
    initializers: list = []

    def const(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs: object) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def weight(key: str) -> np.ndarray:
        return weights[key].astype(np.float32)

    def linear(x: str, prefix: str, name: str) -> str:
        w = const(f"{prefix}.weight_t", weight(f"{prefix}.weight").T)  # [in, out] for MatMul
        b = const(f"{prefix}.bias", weight(f"{prefix}.bias"))
        return node("Add", [node("MatMul", [x, w], f"{name}_mm"), b], name)

    def layer_norm(x: str, prefix: str, name: str) -> str:
        scale = const(f"{prefix}.weight", weight(f"{prefix}.weight"))
        bias = const(f"{prefix}.bias", weight(f"{prefix}.bias"))
        return node("LayerNormalization", [x, scale, bias], name, axis=-1, epsilon=eps)

    i64 = lambda name, values: const(name, np.array(values, dtype=np.int64))  # noqa: E731
    f32 = lambda name, value: const(name, np.array(value, dtype=np.float32))  # noqa: E731

    # Embeddings: word + position + token type 0 (every input is a single segment).
    word = const("word_embeddings", weight("embeddings.word_embeddings.weight"))
    positions = weight("embeddings.position_embeddings.weight")
    positions = positions + weight("embeddings.token_type_embeddings.weight")[0]
    const("position_embeddings", positions)
    shape = node("Shape", ["input_ids"], "ids_shape")
    seq_len = node("Gather", [shape, i64("one", [1])], "seq_len", axis=0)
    position_rows = node(
        "Slice", ["position_embeddings", i64("zero", [0]), seq_len, i64("zero_axis", [0])],
        "position_rows",
    )
    embedded = node(
        "Add", [node("Gather", [word, "input_ids"], "word_rows", axis=0), position_rows], "emb"
    )
    x = layer_norm(embedded, "embeddings.LayerNorm", "emb_ln")

    # Additive attention mask: 0 where a token is real, a large negative where it is padding.
    mask_f = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    mask_4d = node("Unsqueeze", [mask_f, i64("axes_1_2", [1, 2])], "mask_4d")
    attention_bias = node(
        "Mul", [node("Sub", [f32("one_f", 1.0), mask_4d], "mask_inv"), f32("neg", -1e4)],
        "attention_bias",
    )
    split_heads = i64("split_heads", [0, 0, heads, head_dim])
    merge_heads = i64("merge_heads", [0, 0, hidden])
    scale = f32("scale", 1.0 / math.sqrt(head_dim))

    for layer in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{layer}"
        n = f"l{layer}"

        def heads_of(kind: str, perm: list[int], x: str = x, p: str = p, n: str = n) -> str:
            projected = linear(x, f"{p}.attention.self.{kind}", f"{n}_{kind}")
            reshaped = node("Reshape", [projected, split_heads], f"{n}_{kind}_heads")
            return node("Transpose", [reshaped], f"{n}_{kind}_t", perm=perm)

        q = heads_of("query", [0, 2, 1, 3])  # [B, H, S, D]
        k = heads_of("key", [0, 2, 3, 1])  # [B, H, D, S]
        v = heads_of("value", [0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [q, k], f"{n}_qk"), scale], f"{n}_scaled")
        probs = node(
            "Softmax", [node("Add", [scores, attention_bias], f"{n}_masked")], f"{n}_probs",
            axis=-1,
        )
        context = node("Transpose", [node("MatMul", [probs, v], f"{n}_ctx")], f"{n}_ctx_t",
                       perm=[0, 2, 1, 3])
        context = node("Reshape", [context, merge_heads], f"{n}_ctx_merged")
        attended = linear(context, f"{p}.attention.output.dense", f"{n}_attn_out")
        x = layer_norm(node("Add", [attended, x], f"{n}_res1"),
                       f"{p}.attention.output.LayerNorm", f"{n}_ln1")
        inner = linear(x, f"{p}.intermediate.dense", f"{n}_ffn_in")
        # Exact GELU, 0.5 x (1 + erf(x / sqrt 2)); onnxruntime fuses the pattern into one Gelu.
        erf = node("Erf", [node("Mul", [inner, f32(f"{n}_rsqrt2", 1 / math.sqrt(2))],
                                f"{n}_gelu_scaled")], f"{n}_gelu_erf")
        gelu = node("Mul", [node("Mul", [inner, f32(f"{n}_half", 0.5)], f"{n}_gelu_half"),
                            node("Add", [erf, f32(f"{n}_one", 1.0)], f"{n}_gelu_1p")],
                    f"{n}_gelu")
        out = linear(gelu, f"{p}.output.dense", f"{n}_ffn_out")
        x = layer_norm(node("Add", [out, x], f"{n}_res2"), f"{p}.output.LayerNorm", f"{n}_ln2")

    # Mean over real tokens, then unit length.
    mask_3d = node("Unsqueeze", [mask_f, i64("axis_2", [2])], "mask_3d")
    summed = node("ReduceSum", [node("Mul", [x, mask_3d], "masked_tokens"), "one"], "summed",
                  keepdims=0)
    counts = node("Max", [node("ReduceSum", [mask_3d, "one"], "counts", keepdims=0),
                          f32("tiny", 1e-9)], "counts_safe")
    mean = node("Div", [summed, counts], "mean_pooled")
    norm = node("Max", [node("ReduceL2", [mean], "norm", axes=[-1], keepdims=1),
                        f32("tiny_norm", 1e-12)], "norm_safe")
    nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"], name="normalize"))

    graph = helper.make_graph(
        nodes,
        "sentence_encoder",
        inputs=[
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                          ["batch", "tokens"]),
        ],
        outputs=[helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT,
                                               ["batch", hidden])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="docflow")
    model.ir_version = 8  # onnxruntime reads IR 8 on every release we support
    onnx.checker.check_model(model)
    out_path.write_bytes(model.SerializeToString())
