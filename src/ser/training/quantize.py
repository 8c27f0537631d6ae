"""Int8 quantisation of an exported ONNX model folder, for faster CPU inference.

    from ser.training.quantize import quantize_model
    quantize_model("runs/float-model", "src/ser/pretrained/default")    # folder in, folder out

    python -m ser.training.quantize SRC_DIR DST_DIR                      # the same, from a shell

The weights of every MatMul/Gemm become int8 (symmetric, per tensor); activations are quantised
to uint8 on the fly at each call (onnxruntime's dynamic quantisation), so no calibration data is
needed and the result is a deterministic function of the float model. onnxruntime then runs those
products on the CPU's integer dot-product units (AVX-512 VNNI, AVX-VNNI, ARM dot product), about
four times smaller and roughly twice as fast as float32 here (benchmarks/speed.md).

The weights use a 7-bit range by default (``reduce_range=True``): on x86 CPUs without VNNI
(AVX2 only, e.g. older AMD EPYC) onnxruntime multiplies uint8 by int8 with an instruction that
adds two products into a saturating int16, and 8-bit weights can overflow it; with 7-bit weights
they cannot, so the model gives the same answers on every CPU. The convolutions, layer norms,
softmax and pooling stay float32.

This module needs the ``onnx`` package (the ``train`` extra); the quantised folder itself runs
with the core install.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
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
    per_channel: bool = False,
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
    op_types : the operators whose weights are quantised.

    Returns
    -------
    The path of `dst_dir`. Raises `ModelError` if `src_dir` is not a float ONNX model folder.
    """
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
    try:
        quantize_dynamic(
            src_model,
            staging / onnx_file,
            op_types_to_quantize=list(op_types),
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
            "ops": list(op_types),
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
    parser.add_argument("--per-channel", action="store_true", help="one weight scale per output column")
    args = parser.parse_args(argv)
    try:
        out = quantize_model(args.src, args.dst, reduce_range=not args.full_range, per_channel=args.per_channel)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
