"""``ser train-default``: retrain the shipped default model from scratch (resumable)."""

from __future__ import annotations

ORDER = 45


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train-default",
        help="retrain the default model (frozen Whisper encoder + linear head), export it to ONNX and quantise it",
        description="Train the default model's recipe on every corpus of the config, export one ONNX graph, "
        "and write its int8 copy (the form that ships) to OUTPUT; the float graph stays in --float-output. "
        "Rerunning resumes: the encoder's features are cached.",
    )
    p.add_argument("--config", default="configs/default.yaml", help="the recipe (YAML)")
    p.add_argument("-o", "--output", default="runs/default", help="model folder to write")
    p.add_argument("--float-output", help="where the float graph goes (default: runs/<OUTPUT's name>-float)")
    p.add_argument("--no-quantize", action="store_true", help="write the float graph to OUTPUT and stop")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from pathlib import Path

    from ser.errors import SerError

    if not Path(args.config).is_file():
        raise SerError(f"{args.config}: no such recipe file")
    from ser.training.default_model import DefaultRecipe, train_default

    recipe = DefaultRecipe.from_yaml(args.config)
    output = Path(args.output)
    if args.no_quantize:
        out = train_default(recipe, output, log=print)
    else:
        import shutil

        from ser.training.default_model import build_manifest
        from ser.export.quantize import calibration_clips, quantize_model

        float_dir = train_default(recipe, Path(args.float_output or f"runs/{output.name}-float"), log=print)
        card = output / "MODEL_CARD.md"
        if card.is_file():  # quantize_model replaces OUTPUT with the float folder's files
            shutil.copy(card, float_dir / card.name)
        # The smoothing before int8 is set on a seeded sample of the training clips.
        clips = calibration_clips([row.path for row in build_manifest(recipe)], seed=recipe.seed)
        out = quantize_model(float_dir, output, calibration=clips)
    print(f"done: ser predict --model {out} clip.wav")
    return 0
