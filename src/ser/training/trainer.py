"""The one trainer of every PyTorch frame model: epochs, early stopping, checkpoints, resume.

    trainer = Trainer(model, config.train, out_dir, n_classes)
    history = trainer.fit(train_examples, val_examples, resume=True)
    logits = trainer.predict_logits(test_examples)

Per epoch it prints the training and validation loss and accuracy, appends them to
``metrics.jsonl``, and writes ``checkpoint.pt`` (weights, optimiser, random states, history),
so ``resume=True`` continues after the last finished epoch and ends with the same numbers as an
uninterrupted run. The weights of the best validation epoch go to ``model.safetensors``.
Shuffling and SpecAugment draw from generators seeded by ``(seed, epoch)``; dropout draws from
torch's generator, whose state the checkpoint keeps.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from ser.training.config import TrainSection
from ser.training.data import Examples

CHECKPOINT = "checkpoint.pt"
WEIGHTS = "model.safetensors"
METRICS = "metrics.jsonl"
CURVES = "curves.png"


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy (WA) and balanced accuracy (UA, the mean of per-class recall over true classes)."""
    from sklearn.metrics import balanced_accuracy_score

    if len(y_true) == 0:
        return {"acc": float("nan"), "ua": float("nan")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
        ua = balanced_accuracy_score(y_true, y_pred)
    return {"acc": float(np.mean(y_true == y_pred)), "ua": float(ua)}


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """``n / (k * count_c)`` for the k classes present (sklearn's "balanced"); absent classes 0."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights.astype(np.float32)


def pad_batch(arrays: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad [T_i, F] arrays to ``x`` [B, max T, F] and ``lengths`` [B]."""
    lengths = torch.tensor([a.shape[0] for a in arrays], dtype=torch.int64)
    x = torch.zeros(len(arrays), int(lengths.max()), arrays[0].shape[1])
    for i, a in enumerate(arrays):
        x[i, : a.shape[0]] = torch.from_numpy(a)
    return x, lengths


def ccc_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1 - the mean over columns of the concordance correlation coefficient of [B, D] outputs and targets.

    The loss of dimensional emotion models: it rewards getting the spread and the mean right,
    not only the order. A batch of one has no variance; the small constant keeps it finite.
    """
    mean_o, mean_t = outputs.mean(0), targets.mean(0)
    var_o, var_t = outputs.var(0, unbiased=False), targets.var(0, unbiased=False)
    covariance = ((outputs - mean_o) * (targets - mean_t)).mean(0)
    ccc = 2 * covariance / (var_o + var_t + (mean_o - mean_t) ** 2 + 1e-8)
    return 1 - ccc.mean()


def regression_scores(y_true: np.ndarray, y_pred: np.ndarray, names: list[str]) -> dict[str, float]:
    """``ccc`` (mean over dimensions) and ``ccc_<name>`` of [N, D] ratings; NaN without rows."""
    from ser.evaluation.metrics import concordance_correlation

    if len(y_true) < 2:
        return {"ccc": float("nan"), **{f"ccc_{n}": float("nan") for n in names}}
    per = {f"ccc_{n}": concordance_correlation(y_true[:, k], y_pred[:, k]) for k, n in enumerate(names)}
    return {"ccc": float(np.mean(list(per.values()))), **per}


class Trainer:
    """Train a frame model (``forward(x [B, T, F], lengths [B]) -> logits [B, C]``).

    Parameters
    ----------
    model : an ``nn.Module`` from `ser.models.build_model`, freshly seeded.
    config : the ``train`` section (epochs, batch size, lr, patience, class weighting, seed).
    out_dir : where checkpoints, weights and metrics go.
    n_classes : output width.
    spec_augment : mask random time and feature stripes of training batches (`ser.augment.spec_augment`).
    log : one line per epoch goes here (stderr by default).
    dimensions : for a regression task, the names of the C outputs (``arousal``, ``valence``):
        the model's outputs are the ratings themselves, trained with `ccc_loss` and scored by CCC
        (``val_ccc``) instead of cross-entropy and UA.
    """

    def __init__(self, model: nn.Module, config: TrainSection, out_dir: str | os.PathLike, n_classes: int,
                 *, spec_augment: bool = False, log: Callable[[str], None] | None = None,
                 dimensions: list[str] | None = None):
        self.dimensions = dimensions
        self.model = model
        self.config = config
        self.out_dir = Path(out_dir)
        self.n_classes = n_classes
        self.spec_augment = spec_augment
        self.log = log or logging.getLogger(__name__).info
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.history: list[dict] = []
        self.trained_rows: set[int] = set()  # every row a training batch has held (leakage audits)

    # -- batches

    def batches(self, examples: Examples, *, shuffle: bool, epoch: int = 0
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray]]:
        """``(x, lengths, y, rows)`` batches of `examples`; shuffled and masked by ``(seed, epoch)``."""
        order = np.arange(len(examples))
        if shuffle:
            order = np.random.default_rng([self.config.seed, epoch]).permutation(len(examples))
        mask_rng = np.random.default_rng([self.config.seed, epoch, 1])
        for start in range(0, len(order), self.config.batch_size):
            chosen = order[start : start + self.config.batch_size]
            arrays = [examples.x[i] for i in chosen]
            if shuffle and self.spec_augment:
                from ser.augment import spec_augment

                arrays = [spec_augment(a, mask_rng, value=0.0) for a in arrays]
            x, lengths = pad_batch(arrays)
            yield x, lengths, torch.from_numpy(examples.y[chosen]), examples.rows[chosen]

    # -- training

    def fit(self, train: Examples, val: Examples, *, resume: bool = False) -> list[dict]:
        """Train until ``epochs`` or early stopping; returns the per-epoch history."""
        c = self.config
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.dimensions:
            loss_fn = ccc_loss
        else:
            weights = torch.from_numpy(class_weights(train.y, self.n_classes)) if c.class_weight == "balanced" else None
            loss_fn = nn.CrossEntropyLoss(weight=weights)
        state = {"epoch": 0, "best": None, "best_epoch": 0, "bad_epochs": 0, "stopped": False}
        if resume and (self.out_dir / CHECKPOINT).is_file():
            state = self._load_checkpoint()
            self.log(f"resuming after epoch {state['epoch']} (best {c.monitor} {state['best']} at epoch {state['best_epoch']})")
        elif (self.out_dir / METRICS).exists():
            (self.out_dir / METRICS).unlink()

        epoch = state["epoch"]
        while epoch < c.epochs and not state["stopped"]:
            epoch += 1
            started = time.perf_counter()
            self.model.train()
            total, correct, seen = 0.0, 0, 0
            for x, lengths, y, rows in self.batches(train, shuffle=True, epoch=epoch):
                self.trained_rows.update(int(r) for r in rows)
                self.optimizer.zero_grad()
                logits = self.model(x, lengths)
                loss = loss_fn(logits, y)
                loss.backward()
                if c.grad_clip > 0:
                    nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip)
                self.optimizer.step()
                total += loss.item() * len(y)
                if not self.dimensions:
                    correct += int((logits.argmax(1) == y).sum())
                seen += len(y)
            val_logits = self.predict_logits(val)
            val_loss = float(loss_fn(torch.from_numpy(val_logits), torch.from_numpy(val.y))) if len(val) else float("nan")
            train_loss = round(total / max(seen, 1), 6)
            if self.dimensions:
                ccc = {k: round(v, 6) for k, v in regression_scores(val.y, val_logits, self.dimensions).items()}
                record = {"epoch": epoch, "train_loss": train_loss, "val_loss": round(val_loss, 6),
                          "val_ccc": ccc.pop("ccc"), **ccc}
            else:
                val_scores = scores(val.y, val_logits.argmax(1))
                record = {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "train_acc": round(correct / max(seen, 1), 6),
                    "val_loss": round(val_loss, 6),
                    "val_acc": round(val_scores["acc"], 6),
                    "val_ua": round(val_scores["ua"], 6),
                }
            record["seconds"] = round(time.perf_counter() - started, 2)
            score = record[c.monitor] if c.monitor != "val_loss" else -record["val_loss"]
            improved = state["best"] is None or score > state["best"]
            if improved:
                state.update(best=score, best_epoch=epoch, bad_epochs=0)
                self._save_weights()
            else:
                state["bad_epochs"] += 1
                if c.patience and state["bad_epochs"] >= c.patience:
                    state["stopped"] = True
            record["best"] = improved
            self.history.append(record)
            with open(self.out_dir / METRICS, "a", encoding="utf-8") as out:
                out.write(json.dumps(record) + "\n")
            state["epoch"] = epoch
            self._save_checkpoint(state)
            if self.dimensions:
                scored = "  ".join(f"{n} {record[f'ccc_{n}']:.3f}" for n in self.dimensions)
                line = f"train loss {record['train_loss']:.4f}  val loss {record['val_loss']:.4f} CCC {scored}"
            else:
                line = (f"train loss {record['train_loss']:.4f} acc {record['train_acc']:.3f}  val loss "
                        f"{record['val_loss']:.4f} acc {record['val_acc']:.3f} UA {record['val_ua']:.3f}")
            self.log(f"epoch {epoch:3d}/{c.epochs}  {line}  {record['seconds']:.1f}s{'  *' if improved else ''}")
            if state["stopped"]:
                self.log(f"early stop: no better {c.monitor} for {c.patience} epochs (best epoch {state['best_epoch']})")
        self.best_epoch = state["best_epoch"]
        self.load_best()
        plot_curves(self.history, self.out_dir / CURVES)
        return self.history

    @torch.no_grad()
    def predict_logits(self, examples: Examples) -> np.ndarray:
        """Logits [N, C] in the order of `examples` (eval mode, no augmentation)."""
        self.model.eval()
        out = [self.model(x, lengths).numpy() for x, lengths, _, _ in self.batches(examples, shuffle=False)]
        return np.concatenate(out) if out else np.zeros((0, self.n_classes), np.float32)

    # -- persistence

    def _save_weights(self) -> None:
        from safetensors.torch import save_file

        tmp = self.out_dir / f".{WEIGHTS}.tmp"
        save_file({k: v.contiguous() for k, v in self.model.state_dict().items()}, str(tmp))
        os.replace(tmp, self.out_dir / WEIGHTS)

    def load_best(self) -> None:
        """Put the best epoch's weights (``model.safetensors``) back into the model."""
        from safetensors.torch import load_file

        if (self.out_dir / WEIGHTS).is_file():
            self.model.load_state_dict(load_file(str(self.out_dir / WEIGHTS)))

    def _save_checkpoint(self, state: dict) -> None:
        payload = {
            "state": state,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "history": self.history,
            "trained_rows": sorted(self.trained_rows),
        }
        tmp = self.out_dir / f".{CHECKPOINT}.tmp"
        torch.save(payload, tmp)
        os.replace(tmp, self.out_dir / CHECKPOINT)

    def _load_checkpoint(self) -> dict:
        payload = torch.load(self.out_dir / CHECKPOINT, weights_only=False)
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        torch.set_rng_state(payload["torch_rng"])
        self.history = list(payload["history"])
        self.trained_rows = set(payload.get("trained_rows", []))
        # metrics.jsonl may hold lines of an epoch after the checkpoint (killed in between).
        with open(self.out_dir / METRICS, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(r) + "\n" for r in self.history)
        return dict(payload["state"])


def plot_curves(history: list[dict], path: str | os.PathLike) -> None:
    """Loss and accuracy per epoch (training and validation) as a PNG."""
    if not history:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(epochs, [r["train_loss"] for r in history], label="training")
    left.plot(epochs, [r["val_loss"] for r in history], label="validation")
    left.set(xlabel="epoch", ylabel="loss", title="loss")
    if "val_ccc" in history[0]:  # regression
        for key in [k for k in history[0] if k.startswith("ccc_")] + ["val_ccc"]:
            right.plot(epochs, [r[key] for r in history], label=f"validation CCC {'mean' if key == 'val_ccc' else key[4:]}")
        right.set(xlabel="epoch", ylabel="CCC", title="concordance", ylim=(-1, 1))
    else:
        right.plot(epochs, [r["train_acc"] for r in history], label="training accuracy")
        right.plot(epochs, [r["val_acc"] for r in history], label="validation accuracy")
        right.plot(epochs, [r["val_ua"] for r in history], label="validation UA", linestyle="--")
        right.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1))
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
