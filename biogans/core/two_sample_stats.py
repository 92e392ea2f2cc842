"""Held-out statistics of a two-sample critic that a reader understands: ROC AUC, accuracy,
and a p-value for "the two sides are the same" (the classifier two-sample test of
Lopez-Paz and Oquab, ICLR 2017, which the paper's score builds on).

The paper's two-sample score (minus the critic's held-out loss) depends on the loss's
scale; these do not.  They only look at how the critic *ranks* held-out images of side
``a`` against held-out images of side ``b``:

* **AUC** (:func:`auc`, scikit-learn's ``roc_auc_score``): the probability that a random
  held-out image of side ``a`` gets a higher *oriented* score than a random one of side
  ``b`` (ties count one half).  0.5: the critic cannot tell the sides apart; 1.0: every
  image of ``a`` ranks above every image of ``b``.  "Oriented" means turned the way the
  critic was trained (side ``a`` high), so an AUC below 0.5 is the critic being wrong,
  not a difference found.
* **p-value** (:func:`p_value`, SciPy's Mann-Whitney U test, the exact counterpart of the
  AUC: ``U = AUC * n_a * n_b``): one-sided, alternative "side ``a`` ranks above side
  ``b``".  One-sided because the critic was trained to rank ``a`` high before it saw the
  held-out images, so only that direction is evidence of a difference it learnt; a
  two-sided test would halve the power for the same false-alarm rate.
* **accuracy** (:func:`accuracy`, scikit-learn's ``balanced_accuracy_score``): the share of
  held-out images put on their own side by a fixed rule: the *sign* of the GAN critic's
  logits (its loss puts the decision at 0), or for the WGAN critics, whose scores have no
  natural zero, a *threshold chosen on the training half* (:func:`train_threshold`: the
  one that best separates the critic's scores of the images it was trained on).  Balanced:
  the mean of the two sides' accuracies, so 0.5 is chance even when the sides hold
  different numbers of images (with equal numbers it is the plain accuracy).

Counting: every distinct held-out image counts once (:func:`per_image`).  The scoring
passes redraw the same real images with random flips; those draws are not independent
samples, and a test over them reports too small a p-value.  So the scores of one image
are averaged over its draws first; generated images are fresh, one draw each.

Per class: a star-shaped critic is one critic per class; each class gets its own
statistics (:func:`separation`), and :func:`overall` summarises them: the mean AUC and
accuracy over classes (as the paper's score is the mean over classes) and Fisher's
combination of the per-class p-values (null: no class differs).

Pure NumPy/SciPy/scikit-learn on plain arrays: no torch, no Hydra.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import combine_pvalues, mannwhitneyu
from sklearn.metrics import balanced_accuracy_score, roc_auc_score, roc_curve

from biogans.core.records import Separation

#: accuracy rules: the sign of the GAN critic's logits, a threshold chosen on the training half
SIGN = "sign"
TRAIN_THRESHOLD = "train-threshold"
#: what the recorded p-values are
P_VALUE_TEST = "Mann-Whitney U, one-sided (side a ranks above side b), each held-out image once"
P_VALUE_COMBINED = "Fisher's combination of the per-class p-values"
#: p-values are shown as "p < 1e-30" below this
SHOWN_P_FLOOR = 1e-30


def per_image(scores: Sequence[float] | np.ndarray, ids: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """One score per distinct image: the mean of the rows of each id, in increasing id order.

    ``scores`` and ``ids`` are flat and of one length (row ``i`` scored image ``ids[i]``);
    ``ids=None`` means every row is an image of its own (fresh generated images).
    """
    values = np.asarray(scores, dtype=np.float64).ravel()
    if ids is None:
        return values
    keys = np.asarray(ids).ravel()
    if keys.shape != values.shape:
        raise ValueError(f"{values.size} scores but {keys.size} image ids")
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return np.bincount(inverse, weights=values, minlength=counts.size) / counts


def _labelled(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels (1: side a, 0: side b) and scores of both sides, for scikit-learn."""
    a, b = _side(a, "a"), _side(b, "b")
    return np.concatenate([np.ones(a.size), np.zeros(b.size)]), np.concatenate([a, b])


def _side(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    out = np.asarray(values, dtype=np.float64).ravel()
    if out.size == 0:
        raise ValueError(f"side {name} has no scored image")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"side {name} has non-finite critic scores")
    return out


def auc(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """ROC AUC of oriented scores: P(score of an a-image > score of a b-image), ties one half."""
    labels, scores = _labelled(np.asarray(a), np.asarray(b))
    return float(roc_auc_score(labels, scores))


def p_value(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """One-sided Mann-Whitney U p-value for "side a ranks above side b" (see the module docstring)."""
    a, b = _side(a, "a"), _side(b, "b")
    return float(mannwhitneyu(a, b, alternative="greater").pvalue)


def train_threshold(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """The threshold on oriented scores that best separates ``a`` (above) from ``b`` (below).

    Chosen on the training half's scores: the point of the ROC curve farthest above the
    diagonal (Youden's J = true-positive rate - false-positive rate), which is the
    threshold of the best balanced accuracy.  ``inf`` when no threshold beats chance.
    """
    labels, scores = _labelled(np.asarray(a), np.asarray(b))
    fpr, tpr, thresholds = roc_curve(labels, scores)
    return float(thresholds[int(np.argmax(tpr - fpr))])


def accuracy(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, threshold: float) -> float:
    """Balanced accuracy of the rule "side a when the oriented score is >= ``threshold``"."""
    labels, scores = _labelled(np.asarray(a), np.asarray(b))
    return float(balanced_accuracy_score(labels, (scores >= threshold).astype(np.float64)))


def separation(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, threshold: float) -> Separation:
    """AUC, one-sided p-value, accuracy at ``threshold`` and the counts, of one critic's
    oriented held-out scores, one value per distinct image on each side (:func:`per_image`)."""
    a, b = _side(a, "a"), _side(b, "b")
    return Separation(auc=auc(a, b), p_value=p_value(a, b), accuracy=accuracy(a, b, threshold), n_a=a.size, n_b=b.size)


def overall(per_class: Sequence[Separation]) -> Separation:
    """Every class's critic at once: mean AUC and accuracy, Fisher-combined p-value, summed counts."""
    if not per_class:
        raise ValueError("overall() needs at least one class")
    if len(per_class) == 1:
        return per_class[0]
    # a p-value that underflowed to 0 would make Fisher's statistic infinite
    ps = np.clip([s.p_value for s in per_class], np.finfo(np.float64).tiny, 1.0)
    return Separation(
        auc=float(np.mean([s.auc for s in per_class])),
        p_value=float(combine_pvalues(ps, method="fisher").pvalue),
        accuracy=float(np.mean([s.accuracy for s in per_class])),
        n_a=sum(s.n_a for s in per_class),
        n_b=sum(s.n_b for s in per_class),
    )


def format_p(p: float) -> str:
    """``p < 1e-30``, ``p = 3e-07`` or ``p = 0.42``: as many digits as a reader needs."""
    if not math.isfinite(p):
        return "p = ?"
    if p < SHOWN_P_FLOOR:
        return f"p < {SHOWN_P_FLOOR:.0e}"
    if p < 1e-3:
        return f"p = {p:.0e}"
    return f"p = {p:.2g}"
