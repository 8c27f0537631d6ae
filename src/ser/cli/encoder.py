"""``ser train-default``: retrain the shipped default model from scratch (resumable)."""

from __future__ import annotations

ORDER = 45


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train-default",
        help="retrain the default model (frozen Whisper encoder + linear head) and export it to ONNX",
    )
    p.add_argument("--config", default="configs/default.yaml", help="the recipe (YAML)")
    p.add_argument("-o", "--output", default="runs/default", help="model folder to write")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from pathlib import Path

    from ser.errors import SerError

    if not Path(args.config).is_file():
        raise SerError(f"{args.config}: no such recipe file")
    from ser.training.default_model import DefaultRecipe, train_default

    recipe = DefaultRecipe.from_yaml(args.config)
    out = train_default(recipe, args.output)
    print(f"done: ser predict --model {out} clip.wav")
    return 0
