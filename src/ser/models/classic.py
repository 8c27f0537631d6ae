"""Classical baselines on one pooled feature vector per clip (scikit-learn).

Each model is standardisation followed by a classifier, with the shared interface of the
registry (`ser.models.build_model`): ``fit(x [N, F], y [N] ints in 0..n_classes-1)``,
``predict_proba(x) -> [N, n_classes]`` (a class missing from the training data gets
probability 0) and ``predict``. eGeMAPS + SVM is the community's standard baseline.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler


class _Classic(BaseEstimator, ClassifierMixin):
    """Standardise, then `_estimator()`; the probability columns always cover every class."""

    input_kind = "pooled"

    def __init__(self, n_features: int, n_classes: int, *, class_weight: str | None = "balanced", seed: int = 0):
        self.n_features = n_features
        self.n_classes = n_classes
        self.class_weight = class_weight
        self.seed = seed

    def _estimator(self):
        raise NotImplementedError

    def fit(self, x: np.ndarray, y: np.ndarray) -> "_Classic":
        x = self._check(x)
        self.pipeline_: Pipeline = make_pipeline(StandardScaler(), self._estimator())
        self.pipeline_.fit(x, np.asarray(y, dtype=np.int64))
        self.classes_ = np.arange(self.n_classes)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        proba = self.pipeline_.predict_proba(self._check(x))
        full = np.zeros((proba.shape[0], self.n_classes), dtype=np.float64)
        full[:, self.pipeline_.classes_] = proba
        return full

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.predict_proba(x).argmax(axis=1)

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected pooled features of shape (n, {self.n_features}), got {x.shape}")
        # A constant-NaN column (e.g. an eGeMAPS functional on silence) would poison the scaler.
        return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)


class SVMClassifier(_Classic):
    """RBF support-vector machine; probabilities by Platt scaling fitted by internal cross-validation
    (`CalibratedClassifierCV`, up to 5 folds, fewer when a class has fewer clips)."""

    def __init__(self, n_features: int, n_classes: int, *, C: float = 1.0, kernel: str = "rbf",
                 gamma: str | float = "scale", class_weight: str | None = "balanced", seed: int = 0):
        super().__init__(n_features, n_classes, class_weight=class_weight, seed=seed)
        self.C, self.kernel, self.gamma = C, kernel, gamma

    def fit(self, x: np.ndarray, y: np.ndarray) -> "SVMClassifier":
        counts = np.bincount(np.asarray(y, dtype=np.int64))
        self._cv = int(max(2, min(5, counts[counts > 0].min())))
        return super().fit(x, y)

    def _estimator(self):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.model_selection import StratifiedKFold
        from sklearn.svm import SVC

        svc = SVC(C=self.C, kernel=self.kernel, gamma=self.gamma, class_weight=self.class_weight, random_state=self.seed)
        cv = StratifiedKFold(n_splits=getattr(self, "_cv", 5), shuffle=True, random_state=self.seed)
        return CalibratedClassifierCV(svc, method="sigmoid", cv=cv, ensemble=False)


class MLPClassifier(_Classic):
    """A multilayer perceptron (Adam; early stopping on an internal 10 % split from 200 clips up)."""

    def __init__(self, n_features: int, n_classes: int, *, hidden: tuple[int, ...] = (256,), alpha: float = 1e-3,
                 lr: float = 1e-3, max_iter: int = 300, class_weight: str | None = None, seed: int = 0):
        super().__init__(n_features, n_classes, class_weight=class_weight, seed=seed)
        self.hidden, self.alpha, self.lr, self.max_iter = hidden, alpha, lr, max_iter

    def _estimator(self):
        from sklearn.neural_network import MLPClassifier as SkMLP

        # scikit-learn's MLP takes no class weights. A 10 % split of fewer than 200 clips is too
        # noisy to stop on.
        return SkMLP(hidden_layer_sizes=tuple(self.hidden), alpha=self.alpha, learning_rate_init=self.lr,
                     max_iter=self.max_iter, early_stopping=getattr(self, "_n", 0) >= 200, random_state=self.seed)

    def fit(self, x: np.ndarray, y: np.ndarray) -> "MLPClassifier":
        self._n = len(y)
        return super().fit(x, y)


class LogisticClassifier(_Classic):
    """Multinomial logistic regression (L2, strength ``1 / C``)."""

    def __init__(self, n_features: int, n_classes: int, *, C: float = 1.0, max_iter: int = 2000,
                 class_weight: str | None = "balanced", seed: int = 0):
        super().__init__(n_features, n_classes, class_weight=class_weight, seed=seed)
        self.C, self.max_iter = C, max_iter

    def _estimator(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=self.max_iter, class_weight=self.class_weight,
                                  random_state=self.seed)
