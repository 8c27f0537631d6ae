"""Export Resemblyzer's pretrained voice encoder to ONNX, once (needs torch; predicting does not).

    python -m ser.speakers.export                 # weights of the installed `resemblyzer` package
    python -m ser.speakers.export --weights pretrained.pt -o src/ser/pretrained/speaker/model.onnx

The network (Resemblyzer 0.1.4, `resemblyzer/voice_encoder.py`, Apache-2.0): a 3-layer LSTM of
256 units over 40-band mel power frames, the last layer's final hidden state through a 256 x 256
linear layer, ReLU, then L2 normalisation. The graph takes ``mels`` [batch, frames, 40] (frames
is 160 for Resemblyzer's 1.6 s partials, but any count runs) and returns ``embeddings``
[batch, 256], unit length. A tiny epsilon in the norm keeps an all-zero ReLU output (no such
output was seen on speech) from becoming NaN; otherwise the graph is the torch model's.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import logging
import os
import tempfile
from pathlib import Path

from ser.errors import ModelError

logger = logging.getLogger(__name__)

N_MELS = 40
HIDDEN = 256
LAYERS = 3
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "pretrained" / "speaker" / "model.onnx"


def resemblyzer_weights() -> Path:
    """Where the installed `resemblyzer` package keeps ``pretrained.pt`` (without importing it:
    its ``__init__`` imports webrtcvad, which needs setuptools' pkg_resources)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("resemblyzer is not installed: `pip install resemblyzer==0.1.4` (or pass --weights PATH)")
    path = Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"
    if not path.is_file():
        raise ModelError(f"{path}: resemblyzer's pretrained.pt is missing")
    return path


def torch_encoder(weights: Path):
    """Resemblyzer's voice encoder as a torch module: mels [batch, frames, 40] -> [batch, 256]."""
    import torch
    from torch import nn

    class VoiceEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(N_MELS, HIDDEN, LAYERS, batch_first=True)
            self.linear = nn.Linear(HIDDEN, HIDDEN)

        def forward(self, mels):
            _, (hidden, _) = self.lstm(mels)
            raw = torch.relu(self.linear(hidden[-1]))
            return raw / (torch.linalg.vector_norm(raw, dim=1, keepdim=True) + 1e-12)

    try:
        checkpoint = torch.load(weights, map_location="cpu", weights_only=False)
        state = {k: v for k, v in checkpoint["model_state"].items() if k.startswith(("lstm.", "linear."))}
    except (OSError, KeyError, RuntimeError, TypeError) as exc:
        raise ModelError(f"{weights}: not a Resemblyzer checkpoint ({exc})") from exc
    model = VoiceEncoder()
    model.load_state_dict(state)  # strict: every LSTM and linear weight must be there
    return model.eval()


def export(weights: Path, out: Path) -> Path:
    """Write the ONNX graph to `out` (aside, then renamed in place); returns `out`."""
    import torch

    model = torch_encoder(weights)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with torch.no_grad():
            torch.onnx.export(
                model, (torch.zeros(2, 160, N_MELS),), staging,
                input_names=["mels"], output_names=["embeddings"],
                dynamic_axes={"mels": {0: "batch", 1: "frames"}, "embeddings": {0: "batch"}},
                opset_version=17, dynamo=False,
            )
        os.chmod(staging, 0o644)
        os.replace(staging, out)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    logger.info("wrote %s (%.1f MB, sha256 %s)", out, out.stat().st_size / 1e6, digest)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, help="Resemblyzer pretrained.pt (default: the installed package's)")
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT, help=f"ONNX file to write (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    export(args.weights or resemblyzer_weights(), args.out)


if __name__ == "__main__":
    main()
