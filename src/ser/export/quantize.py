"""Int8 quantisation of an exported ONNX model folder, for faster CPU inference.

    from ser.export.quantize import quantize_model
    quantize_model("runs/float-model", "src/ser/pretrained/default", calibration=signals)  # folder in, folder out

    python -m ser.export.quantize SRC_DIR DST_DIR --calibration clips/   # the same, from a shell
    (``python -m ser.training.quantize``, its former place, still works)

onnxruntime's dynamic quantisation: the weights of the chosen matrix products become int8
(symmetric, one scale per output column) and their inputs are quantised to uint8 on the fly at
each call, so the result is a deterministic function of the float model (and of the calibration
clips, if given). onnxruntime then runs those products on the CPU's integer dot-product units
(AVX-512 VNNI, AVX-VNNI, ARM dot product).

What goes int8 (`nodes_to_quantize`): every feed-forward product, and the attention
projections of all but the first layers, whose errors run through every later layer. Given
calibration clips, the float graph is first smoothed (`smooth_activations`): each activation
channel's range is moved partly into the weights, exactly, so that one uint8 scale per
activation matrix loses less, and then only the first quarter of the layers keeps float
attention projections (the first half without smoothing). On the default model (4 layers) that
is layer 0 instead of layers 0 and 1; quantising layer 0 too changed 1.5-2.3% of the labels,
depending on the calibration sample. The convolutions, layer norms, softmax, GELU, the products
of two activations and the pooling stay float32. benchmarks/speed.md measures the label
agreement and the accuracy against the float model.

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
import logging
import os
import re
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Sequence

from ser.audio import AudioError
from ser.errors import ModelError
from ser.export.folder import staged_folder
from ser.model_folder import CONFIG_NAME, read_config, write_config

__all__ = ["QUANTIZED_OPS", "SMOOTHING_ALPHA", "agreement", "calibration_clips", "calibration_features",
           "convolutions_as_matmul", "main", "nodes_to_quantize", "quantize_model", "smooth_activations"]

QUANTIZED_OPS = ("MatMul", "Gemm")
SMOOTHING_ALPHA = 0.65


def quantize_model(
    src_dir: str | os.PathLike,
    dst_dir: str | os.PathLike,
    *,
    reduce_range: bool = True,
    per_channel: bool = True,
    convolutions: bool = False,
    float_attention: float | None = None,
    op_types: Sequence[str] = QUANTIZED_OPS,
    calibration: Sequence[Any] | None = None,
    smoothing: float = SMOOTHING_ALPHA,
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
        (q, k, v, out) stay float32 (see `nodes_to_quantize`). Default: the first quarter with
        `calibration` (smoothing makes the others safe to quantise), the first half without.
    op_types : the operators whose weights are quantised.
    calibration : 16 kHz float32 signals whose activations set the smoothing (`smooth_activations`)
        applied to the float graph first; None: no smoothing. A few dozen clips suffice.
    smoothing : the smoothing's migration strength alpha, in [0, 1].

    Returns
    -------
    The path of `dst_dir`. Raises `ModelError` if `src_dir` is not a float ONNX model folder, and
    ValueError for an empty `calibration`.
    """
    import onnx
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if calibration is not None and not len(calibration):
        raise ValueError("calibration needs at least one clip (or None for no smoothing)")
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

    with staged_folder(dst) as staging:
        model = onnx.load_from_string(source_bytes)
        for index, node in enumerate(model.graph.node):
            node.name = node.name or f"{node.op_type}_{index}"  # nodes are chosen by name
        smoothed = 0
        if calibration is not None:
            features = calibration_features(calibration, config)
            model, smoothed = smooth_activations(model, features, smoothing)
        if float_attention is None:
            float_attention = 0.25 if calibration is not None else 0.5
        if convolutions:
            model = convolutions_as_matmul(model)
        chosen = nodes_to_quantize(model, op_types, float_attention)
        with _without_preprocessing_advice():
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
            **({"smoothing": {"alpha": smoothing, "calibration_clips": len(calibration), "smoothed_products": smoothed}}
               if calibration is not None else {}),
            "weights": f"int8 symmetric, per {'channel' if per_channel else 'tensor'}, "
            f"{'7-bit range (reduce_range)' if reduce_range else 'full 8-bit range'}",
            "activations": "uint8 asymmetric, per tensor, computed at each call",
            "source_sha256": hashlib.sha256(source_bytes).hexdigest(),
            "source_bytes": len(source_bytes),
            "onnxruntime": onnxruntime.__version__,
        }
        write_config(staging, config)
    return dst


@contextmanager
def _without_preprocessing_advice():
    """Hide onnxruntime's generic "consider pre-processing" warning (on the root logger): its
    shape inference and graph cleanup are for static quantisation and change nothing here."""

    class Advice(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return "pre-processing before quantization" not in record.getMessage()

    advice = Advice()
    root = logging.getLogger()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)


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


def calibration_features(signals: Sequence[Any], config: dict[str, Any]) -> list[Any]:
    """The model's inputs for 16 kHz `signals`: log-mel features [1, n_mels, frames] each, cut
    to the model's longest input and padded to its shortest, as the backend would feed them."""
    import numpy as np

    from ser.features.logmel import HOP_LENGTH, log_mel_spectrogram

    n_mels = int((config.get("frontend") or {}).get("n_mels", 80))
    longest = int(config.get("max_frames", 3000)) * HOP_LENGTH
    shortest = max(int(config.get("min_samples", 1600)), HOP_LENGTH)
    features = []
    for signal in signals:
        signal = np.asarray(signal, dtype=np.float32)[:longest]
        signal = np.pad(signal, (0, max(0, shortest - signal.shape[0])))
        features.append(log_mel_spectrogram(signal, n_mels=n_mels)[None])
    return features


def smooth_activations(model, features: Sequence[Any], alpha: float = SMOOTHING_ALPHA):
    """Move the activations' outlier channels into the weights, without changing the float model.

    Dynamic quantisation gives a whole activation matrix one uint8 scale, so a few channels with
    large values (transformers have them) leave the others a handful of levels. For a product
    ``X W`` the same result is ``(X / s) (s W)``, with one factor s_j per input channel j;
    SmoothQuant (Xiao et al., 2023) picks ``s_j = max|X_j|^alpha / max|W_j|^(1 - alpha)``,
    which evens out the channels of X at the cost of W's, whose scales are per column anyway.
    The division is folded into what produces X, so the float graph computes the same function
    (to rounding) and needs no new node:

    - a ``LayerNormalization`` whose output feeds only products with constant weights (and
      ``Shape``): its scale and bias are divided by s (the attention's q/k/v and the first
      feed-forward product);
    - an attention output projection: the value projection's columns and bias are divided by
      s, since attention mixes frames but not channels. Found by the exporter's names
      (``.../self_attn/v_proj/...`` and ``.../self_attn/out_proj/MatMul``).

    `features` are model inputs (see `calibration_features`); max|X_j| is taken over all of them.
    Returns ``(model, number of products smoothed)``; `model` is changed in place.
    """
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    graph = model.graph
    _untie_initializers(graph)
    weights = {t.name: t for t in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def constant_product(node) -> bool:
        return node.op_type == "MatMul" and len(node.input) == 2 and node.input[1] in weights and len(weights[node.input[1]].dims) == 2

    groups = []  # (activation name, products reading it, how to fold 1/s in)
    for node in graph.node:
        if node.op_type == "LayerNormalization" and len(node.input) == 3 and all(i in weights for i in node.input[1:]):
            users = consumers.get(node.output[0], [])
            products = [u for u in users if constant_product(u)]
            if products and all(constant_product(u) or u.op_type == "Shape" for u in users):
                groups.append((node.output[0], products, ("norm", node)))
    by_name = {node.name: node for node in graph.node if node.name}
    for node in graph.node:
        if constant_product(node) and node.name.endswith("/self_attn/out_proj/MatMul"):
            prefix = node.name[: -len("out_proj/MatMul")]
            value, bias = by_name.get(prefix + "v_proj/MatMul"), by_name.get(prefix + "v_proj/Add")
            if value is not None and constant_product(value) and len(consumers.get(value.output[0], [])) == 1:
                groups.append((node.input[0], [node], ("value", value, bias)))
    if not groups:
        return model, 0

    # The activations' largest magnitude per channel, from the float graph with them as outputs.
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = list(dict.fromkeys(name for name, _, _ in groups))
    for name in names:
        probe.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0].name  # the graph's one input, the log-mel features
    peaks = {name: None for name in names}
    for x in features:
        for name, value in zip(names, session.run(names, {feed: x})):
            peak = np.abs(value.reshape(-1, value.shape[-1])).max(axis=0)
            peaks[name] = peak if peaks[name] is None else np.maximum(peaks[name], peak)

    def get(name: str):
        return numpy_helper.to_array(weights[name])

    def put(name: str, value) -> None:
        weights[name].CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))

    smoothed = 0
    for name, products, fold in groups:
        if peaks[name] is None:
            continue
        matrices = [get(p.input[1]) for p in products]  # [in, out]: MatMul's constant right-hand side
        weight_peak = np.max([np.abs(m).max(axis=1) for m in matrices], axis=0)
        s = np.maximum(peaks[name], 1e-5) ** alpha / np.maximum(weight_peak, 1e-5) ** (1 - alpha)
        s = np.clip(s, 1e-3, 1e3)
        for product, matrix in zip(products, matrices):
            put(product.input[1], matrix * s[:, None])
        if fold[0] == "norm":
            put(fold[1].input[1], get(fold[1].input[1]) / s)
            put(fold[1].input[2], get(fold[1].input[2]) / s)
        else:
            value, bias = fold[1], fold[2]
            put(value.input[1], get(value.input[1]) / s[None, :])
            if bias is not None:
                [term] = [i for i in bias.input if i in weights]
                put(term, get(term) / s)
        smoothed += len(products)
    return model, smoothed


def _untie_initializers(graph) -> None:
    """Give every ``Identity`` of a constant its own copy of it, so that changing one leaves the
    other alone (torch's exporter writes equal parameters once, e.g. untrained layer norms)."""
    from onnx import numpy_helper

    weights = {t.name: t for t in graph.initializer}
    outputs = {o.name for o in graph.output}
    kept = []
    for node in graph.node:
        if node.op_type == "Identity" and node.input[0] in weights and node.output[0] not in outputs:
            graph.initializer.append(numpy_helper.from_array(numpy_helper.to_array(weights[node.input[0]]), node.output[0]))
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)


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


def agreement(float_dir: str | os.PathLike, quant_dir: str | os.PathLike, signals: Sequence[Any],
              groups: Sequence[str] | None = None) -> dict[str, float]:
    """How closely the quantised model follows the float one on `signals` (16 kHz float32 arrays).

    Returns the share of clips given the same label (``agreement``), and the largest and mean
    absolute difference of any class probability. For models that adapt to a speaker, given
    `groups` (a speaker name per signal), the same with each clip adapted to the profile of its
    group's clips (``..._adapted``; each model builds the profile from its own embeddings).
    """
    import numpy as np

    from ser.inference.head import speaker_centre
    from ser.model_folder import load_model

    models = [load_model(float_dir), load_model(quant_dir)]
    adaptable = all(getattr(m, "can_adapt", False) for m in models)
    embeddings = [m.embed(list(signals)) for m in models] if adaptable else None
    probs = [m.scores(e) for m, e in zip(models, embeddings)] if adaptable else [m.predict_proba(list(signals)) for m in models]
    result = {"clips": len(signals), **_compare(*probs)}
    if adaptable and groups is not None:
        groups = np.asarray(groups)
        adapted = [np.zeros_like(p) for p in probs]
        for group in np.unique(groups):
            rows = groups == group
            for m, e, out in zip(models, embeddings, adapted):
                out[rows] = m.scores(e[rows], speaker_centre(e[rows], m.population_mean, m.shrinkage), adapted=True)
        result.update({f"{key}_adapted": value for key, value in _compare(*adapted).items()})
    return result


def _compare(a, b) -> dict[str, float]:
    diff = abs(a - b)
    return {"agreement": float((a.argmax(1) == b.argmax(1)).mean()), "max_prob_diff": float(diff.max()),
            "mean_prob_diff": float(diff.mean())}


def calibration_clips(files: Sequence[str | os.PathLike], n: int = 96, seed: int = 0) -> list[Any]:
    """A seeded sample of `n` of the audio `files`, decoded to 16 kHz signals, for `calibration`."""
    import numpy as np

    from ser.audio import load

    if not files:
        raise ValueError("no audio files to calibrate on")
    chosen = sorted(np.random.default_rng(seed).choice(len(files), size=min(n, len(files)), replace=False))
    return [load(files[i]) for i in chosen]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ser.export.quantize", description=__doc__.split("\n\n")[0])
    parser.add_argument("src", help="float model folder")
    parser.add_argument("dst", help="folder to write (may be the source itself)")
    parser.add_argument("--full-range", action="store_true", help="8-bit weights (reduce_range=False): exact on VNNI CPUs only")
    parser.add_argument("--per-tensor", action="store_true", help="one weight scale per matrix (default: per output column)")
    parser.add_argument("--convolutions", action="store_true", help="quantise the convolutions too (as im2col MatMuls)")
    parser.add_argument("--float-attention", type=float, default=None, metavar="SHARE",
                        help="share of the first layers whose attention projections stay float "
                        "(default 0.25 with --calibration, else 0.5)")
    parser.add_argument("--calibration", nargs="+", metavar="AUDIO",
                        help="audio files or folders whose activations set the smoothing (a seeded sample of 96 clips is used)")
    parser.add_argument("--smoothing", type=float, default=SMOOTHING_ALPHA, metavar="ALPHA",
                        help=f"smoothing strength in [0, 1] (default {SMOOTHING_ALPHA})")
    args = parser.parse_args(argv)
    # A command-line entry inside the library: its messages go through logging, shown on stderr
    # for the length of the command (as ser.cli.main does for the ser command).
    log = logging.getLogger(__name__)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    level = log.level
    log.setLevel(logging.INFO)
    try:
        return _main(args, log)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def _main(args: argparse.Namespace, log: logging.Logger) -> int:
    try:
        calibration = None
        if args.calibration:
            from ser.corpora.base import find_audio

            files = [f for p in args.calibration for f in (find_audio(p) if Path(p).is_dir() else [Path(p)])]
            if not files:
                raise ValueError(f"no audio files in {', '.join(args.calibration)}")
            calibration = calibration_clips(files)
        out = quantize_model(args.src, args.dst, reduce_range=not args.full_range, per_channel=not args.per_tensor,
                             float_attention=args.float_attention, convolutions=args.convolutions,
                             calibration=calibration, smoothing=args.smoothing)
    except (ModelError, AudioError, ValueError) as exc:
        log.error(f"error: {exc}")
        return 2
    log.info(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
