"""Int8 quantisation of an exported ONNX model folder, for faster CPU inference.

    from ser.training.quantize import quantize_model
    quantize_model("runs/float-model", "src/ser/pretrained/default")    # folder in, folder out

    python -m ser.training.quantize SRC_DIR DST_DIR                      # the same, from a shell

onnxruntime's dynamic quantisation: the weights of the chosen matrix products become int8
(symmetric, one scale per output column) and their inputs are quantised to uint8 on the fly at
each call, so no calibration data is needed and the result is a deterministic function of the
float model. onnxruntime then runs those products on the CPU's integer dot-product units
(AVX-512 VNNI, AVX-VNNI, ARM dot product). Chosen (`nodes_to_quantize`): every feed-forward
product and the attention projections of the later half of the encoder's layers, which is most
of the arithmetic; the convolutions, the first layers' attention projections, layer norms,
softmax, GELU, the products of two activations and the pooling stay float32. On the default
model that keeps 99.5% of labels and the accuracy within half a point (benchmarks/speed.md).

The weights use a 7-bit range by default (``reduce_range=True``): on x86 CPUs without VNNI
(AVX2 only, e.g. older AMD EPYC) onnxruntime multiplies uint8 by int8 with an instruction that
adds two products into a saturating int16, and 8-bit weights can overflow it; with 7-bit weights
they cannot, so the model gives the same answers on every CPU.

This module needs the ``onnx`` package (the ``train`` extra); the quantised folder itself runs
with the core install.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

from ser.errors import ModelError
from ser.inference.backends import CONFIG_NAME, read_config

QUANTIZED_OPS = ("MatMul", "Gemm")


def quantize_model(
    src_dir: str | os.PathLike,
    dst_dir: str | os.PathLike,
    *,
    reduce_range: bool = True,
    per_channel: bool = True,
    convolutions: bool = False,
    float_attention: float = 0.5,
    op_types: Sequence[str] = QUANTIZED_OPS,
) -> Path:
    """Write an int8 copy of the ONNX model folder `src_dir` into `dst_dir`.

    Parameters
    ----------
    src_dir : a float model folder (``ser_model.json`` with ``"backend": "onnx"`` and its graph).
    dst_dir : the folder to write: the quantised ``model.onnx``, ``ser_model.json`` (every key of
        the source, plus a ``"quantization"`` note) and the source's other files (model card...).
        It may be `src_dir` itself: the new folder is written aside and renamed into place.
    reduce_range : 7-bit weights, exact on CPUs without VNNI (see the module docstring).
    per_channel : one scale per output column instead of one per matrix.
    convolutions : rewrite the 1-D convolutions as MatMuls first (`convolutions_as_matmul`), so
        that they are quantised too. Off by default: on the default model the two input
        convolutions in int8 changed 1.2% of labels (0.5% without), for no measurable speed.
    float_attention : share of the encoder's layers, from the first, whose attention projections
        (q, k, v, out) stay float32 (see `nodes_to_quantize`).
    op_types : the operators whose weights are quantised.

    Returns
    -------
    The path of `dst_dir`. Raises `ModelError` if `src_dir` is not a float ONNX model folder.
    """
    import onnx
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = Path(src_dir), Path(dst_dir)
    config = read_config(src)
    if config.get("backend") != "onnx":
        raise ModelError(f"{src}: only ONNX model folders can be quantised (backend is {config.get('backend')!r})")
    if "quantization" in config:
        raise ModelError(f"{src}: this model is already quantised ({config['quantization'].get('method')}); quantise the float model")
    onnx_file = str((config.get("onnx") or {}).get("file", "model.onnx"))
    src_model = src / onnx_file
    if not src_model.is_file():
        raise ModelError(f"{src}: the ONNX file {onnx_file} named in {CONFIG_NAME} is missing")
    source_bytes = src_model.read_bytes()

    dst.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ser-quantize-", dir=dst.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a model folder is package data that anyone reads
    try:
        model = onnx.load_from_string(source_bytes)
        for index, node in enumerate(model.graph.node):
            node.name = node.name or f"{node.op_type}_{index}"  # nodes are chosen by name
        if convolutions:
            model = convolutions_as_matmul(model)
        chosen = nodes_to_quantize(model, op_types, float_attention)
        quantize_dynamic(
            model,
            staging / onnx_file,
            op_types_to_quantize=list(op_types),
            nodes_to_quantize=chosen,
            per_channel=per_channel,
            reduce_range=reduce_range,
            weight_type=QuantType.QInt8,
            extra_options={"MatMulConstBOnly": True},  # products of two activations stay float
        )
        for item in src.iterdir():
            if item.name not in (onnx_file, CONFIG_NAME) and item.is_file():
                shutil.copy2(item, staging / item.name)
        config = dict(config)
        config["quantization"] = {
            "method": "onnxruntime dynamic int8 (quantize_dynamic)",
            "ops": list(op_types) + (["Conv (as im2col MatMul)"] if convolutions else []),
            "float_attention_layers": _float_attention_layers(model, float_attention),
            "quantized_nodes": len(chosen),
            "weights": f"int8 symmetric, per {'channel' if per_channel else 'tensor'}, "
            f"{'7-bit range (reduce_range)' if reduce_range else 'full 8-bit range'}",
            "activations": "uint8 asymmetric, per tensor, computed at each call",
            "source_sha256": hashlib.sha256(source_bytes).hexdigest(),
            "source_bytes": len(source_bytes),
            "onnxruntime": onnxruntime.__version__,
        }
        (staging / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        if dst.exists():
            shutil.rmtree(dst)
        os.replace(staging, dst)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dst


_LAYER = re.compile(r"layers\.(\d+)/self_attn/")


def _float_attention_layers(model, share: float) -> list[int]:
    layers = {int(m.group(1)) for node in model.graph.node if (m := _LAYER.search(node.name))}
    return list(range(int(round(share * len(layers)))))


def nodes_to_quantize(model, op_types: Sequence[str] = QUANTIZED_OPS, float_attention: float = 0.5) -> list[str]:
    """Names of the products of `model` to quantise: every MatMul/Gemm with a constant weight,
    except the attention projections of the first `float_attention` share of the layers.

    Measured on the default model (benchmarks/speed.md): with every product in int8, a few per
    cent of clips change label; the attention projections of the first layers cause most of it
    (an error there passes through every later layer and into the attention weights), while
    the feed-forward products, four fifths of the work, barely move the pooled features.
    Layers are found by the exporter's node names (``.../layers.N/self_attn/...``); a graph
    without such names has every product quantised.
    """
    weights = {t.name for t in model.graph.initializer}
    keep_float = set(_float_attention_layers(model, float_attention))
    chosen = []
    for node in model.graph.node:
        if node.op_type not in op_types or len(node.input) < 2 or node.input[1] not in weights:
            continue
        match = _LAYER.search(node.name)
        if match and int(match.group(1)) in keep_float:
            continue
        chosen.append(node.name)
    return chosen


def convolutions_as_matmul(model):
    """Rewrite every 1-D ``Conv`` of the ONNX `model` (in place) as pad, strided slices, MatMul, Add.

    ``y[b, :, t] = W_k x[b, :, s t + k - p] + bias`` is an im2col product: the K shifted copies
    of the padded input are stacked along channels and multiplied by W reshaped to
    ``[K * C_in, C_out]``. The result is the same in float32 (to rounding), and it turns the
    convolutions into MatMuls that int8 quantisation (and onnxruntime's int8 GEMM) can take:
    onnxruntime's float Conv is several times slower per FLOP than its GEMM on these shapes.
    Only ungrouped, undilated 1-D convolutions with constant weights are rewritten.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    weights = {t.name: t for t in graph.initializer}
    nodes = []
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type != "Conv" or node.input[1] not in weights:
            nodes.append(node)
            continue
        w = numpy_helper.to_array(weights[node.input[1]])
        pads, strides = list(attrs.get("pads", [0, 0])), list(attrs.get("strides", [1]))
        if (w.ndim != 3 or attrs.get("group", 1) != 1 or list(attrs.get("dilations", [1])) != [1]
                or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or len(pads) != 2):
            nodes.append(node)
            continue
        c_out, c_in, k = w.shape
        bias = numpy_helper.to_array(weights[node.input[2]]) if len(node.input) > 2 and node.input[2] else np.zeros(c_out, w.dtype)
        prefix = f"{node.name or node.output[0]}/im2col"

        def const(name: str, value) -> str:
            graph.initializer.append(numpy_helper.from_array(np.asarray(value), f"{prefix}/{name}"))
            return f"{prefix}/{name}"

        padded = f"{prefix}/padded"
        nodes.append(helper.make_node("Pad", [node.input[0], const("pads", np.array([0, 0, pads[0], 0, 0, pads[1]], np.int64))], [padded]))
        taps = []
        for tap in range(k):
            # Tap `tap` reads padded[tap :: stride] up to K - 1 - tap before the end: exactly the output length.
            end = tap - (k - 1) if tap < k - 1 else np.iinfo(np.int64).max
            taps.append(f"{prefix}/tap{tap}")
            nodes.append(helper.make_node(
                "Slice",
                [padded, const(f"start{tap}", np.array([tap], np.int64)), const(f"end{tap}", np.array([end], np.int64)),
                 const(f"axis{tap}", np.array([2], np.int64)), const(f"step{tap}", np.array([strides[0]], np.int64))],
                [taps[-1]],
            ))
        nodes.append(helper.make_node("Concat", taps, [f"{prefix}/columns"], axis=1))
        nodes.append(helper.make_node("Transpose", [f"{prefix}/columns"], [f"{prefix}/rows"], perm=[0, 2, 1]))
        matrix = np.ascontiguousarray(w.transpose(2, 1, 0).reshape(k * c_in, c_out))
        nodes.append(helper.make_node("MatMul", [f"{prefix}/rows", const("weight", matrix)], [f"{prefix}/product"], name=f"{prefix}/MatMul"))
        nodes.append(helper.make_node("Add", [f"{prefix}/product", const("bias", bias)], [f"{prefix}/biased"]))
        nodes.append(helper.make_node("Transpose", [f"{prefix}/biased"], [node.output[0]], perm=[0, 2, 1]))
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for n in graph.node for name in n.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model


def agreement(float_dir: str | os.PathLike, quant_dir: str | os.PathLike, signals: Sequence[Any]) -> dict[str, float]:
    """How closely the quantised model follows the float one on `signals` (16 kHz float32 arrays).

    Returns the share of clips given the same label (``agreement``), and the largest and mean
    absolute difference of any class probability.
    """
    import numpy as np

    from ser.inference.backends import load_backend

    a = load_backend(float_dir).predict_proba(list(signals))
    b = load_backend(quant_dir).predict_proba(list(signals))
    diff = np.abs(a - b)
    return {
        "clips": len(signals),
        "agreement": float((a.argmax(1) == b.argmax(1)).mean()),
        "max_prob_diff": float(diff.max()),
        "mean_prob_diff": float(diff.mean()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ser.training.quantize", description=__doc__.split("\n\n")[0])
    parser.add_argument("src", help="float model folder")
    parser.add_argument("dst", help="folder to write (may be the source itself)")
    parser.add_argument("--full-range", action="store_true", help="8-bit weights (reduce_range=False): exact on VNNI CPUs only")
    parser.add_argument("--per-tensor", action="store_true", help="one weight scale per matrix (default: per output column)")
    parser.add_argument("--convolutions", action="store_true", help="quantise the convolutions too (as im2col MatMuls)")
    parser.add_argument("--float-attention", type=float, default=0.5, metavar="SHARE",
                        help="share of the first layers whose attention projections stay float (default 0.5)")
    args = parser.parse_args(argv)
    try:
        out = quantize_model(args.src, args.dst, reduce_range=not args.full_range, per_channel=not args.per_tensor,
                             float_attention=args.float_attention, convolutions=args.convolutions)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
