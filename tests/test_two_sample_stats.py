"""The two-sample test's readable statistics (issue 11): AUC, accuracy, p-value, counts.

First the statistics on hand-made numbers (each checked against a count a reader can do
by hand), then on the critic's real scores: the synthetic data, trained generators and a
star-shaped critic against critics run one class at a time.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from biogans.core.records import Separation
from biogans.core.two_sample_stats import (
    accuracy,
    auc,
    format_p,
    overall,
    p_value,
    per_image,
    separation,
    train_threshold,
)


def pairwise_auc(a, b) -> float:
    """The AUC by its definition: the share of (a, b) pairs with a above b, ties one half."""
    wins = sum(1.0 if x > y else 0.5 if x == y else 0.0 for x, y in itertools.product(a, b))
    return wins / (len(a) * len(b))


# --------------------------------------------------------------------------- hand-made cases


def test_auc_equals_the_pairwise_count_ties_included():
    a = [3.0, 1.0, 2.0, 2.0, 5.0]
    b = [0.5, 2.0, 1.0, 4.0]
    # by hand: 3 beats 0.5,2,1 (3); 1 beats 0.5, ties 1 (1.5); each 2 beats 0.5,1, ties 2 (2.5); 5 beats all (4)
    assert pairwise_auc(a, b) == (3 + 1.5 + 2.5 + 2.5 + 4) / 20
    assert auc(a, b) == pytest.approx(pairwise_auc(a, b), abs=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x, y = rng.integers(0, 6, size=7).astype(float), rng.integers(0, 6, size=9).astype(float)  # many ties
        assert auc(x, y) == pytest.approx(pairwise_auc(x, y), abs=1e-12)
    assert auc([1.0, 2.0], [3.0, 4.0]) == 0.0 and auc([3.0, 4.0], [1.0, 2.0]) == 1.0


def test_each_image_counts_once_its_rows_averaged():
    # image 7 drawn three times (passes, flips), image 2 twice, image 5 once
    scores = [1.0, 4.0, 2.0, 3.0, 6.0, 0.0]
    ids = [7, 2, 7, 2, 5, 7]
    assert per_image(scores, ids).tolist() == [3.5, 6.0, 1.0]  # ids 2, 5, 7 in increasing order
    assert per_image(np.array([[1.0, 2.0], [3.0, 4.0]])).tolist() == [1.0, 2.0, 3.0, 4.0]  # fresh: one each
    with pytest.raises(ValueError, match="3 scores but 2 image ids"):
        per_image([1.0, 2.0, 3.0], [0, 1])
    # counting draws instead of images would make a p-value too small: the same two images
    # drawn ten times look like twenty independent ones
    a, b = [1.0, 2.0] * 10, [0.0, 1.5] * 10
    assert p_value(a, b) < 0.01 < p_value(per_image(a, [0, 1] * 10), per_image(b, [0, 1] * 10))


def test_p_value_is_one_sided_in_the_critics_direction():
    high, low = np.arange(10.0) + 100, np.arange(12.0)
    # side a above side b, as the critic was trained: exactly 1 / C(22, 10) = 1.5e-6; SciPy's
    # normal approximation (used beyond 8 images a side) says 4.4e-5
    assert p_value(high, low) < 1e-4
    assert p_value(low, high) > 0.99  # the critic ranked the sides the wrong way round: no evidence
    same = np.arange(20.0)
    assert 0.3 < p_value(same[::2], same[1::2]) < 0.7


def test_threshold_from_the_training_half_and_balanced_accuracy():
    train_a, train_b = [2.0, 3.0, 4.0, 5.0], [-1.0, 0.0, 1.0, 2.5]
    threshold = train_threshold(train_a, train_b)
    assert threshold == 3.0  # the best split: a >= 3 misses one a-image and no b-image
    assert accuracy(train_a, train_b, threshold) == (3 / 4 + 4 / 4) / 2
    # held out: 2 of 3 a-images and 5 of 5 b-images on their own side; balanced, so chance stays 0.5
    assert accuracy([2.0, 3.5, 9.0], [0.0, 1.0, 2.9, -4.0, 2.0], threshold) == pytest.approx((2 / 3 + 1) / 2)
    assert accuracy([1.0, 2.0], [1.0, 2.0, 1.0, 2.0], threshold=1.5) == 0.5
    assert train_threshold([1.0, 2.0], [1.0, 2.0]) == math.inf  # nothing beats chance: everything is b


def test_separation_and_overall_over_classes():
    one = separation([3.0, 4.0, 5.0], [0.0, 1.0, 3.0, 2.0], threshold=2.5)
    assert one.auc == pytest.approx(pairwise_auc([3.0, 4.0, 5.0], [0.0, 1.0, 3.0, 2.0]))  # 11.5 / 12
    assert (one.accuracy, one.n_a, one.n_b) == ((1 + 3 / 4) / 2, 3, 4)
    assert one.p_value == p_value([3.0, 4.0, 5.0], [0.0, 1.0, 3.0, 2.0]) < 0.05
    two = separation([0.0, 1.0], [0.5, 2.0], threshold=0.0)
    both = overall([one, two])
    assert both.auc == pytest.approx((one.auc + two.auc) / 2) and both.accuracy == (one.accuracy + two.accuracy) / 2
    assert (both.n_a, both.n_b) == (5, 6)
    # Fisher: -2 sum ln p is chi-squared with 4 degrees of freedom, whose survival function is (1 + x/2) e^(-x/2)
    x = -2 * (math.log(one.p_value) + math.log(two.p_value))
    assert both.p_value == pytest.approx((1 + x / 2) * math.exp(-x / 2), rel=1e-9)
    assert overall([one]) is one
    tiny = Separation(auc=1.0, p_value=0.0, accuracy=1.0, n_a=100, n_b=100)  # an underflowed p
    assert overall([tiny, two]).p_value < 1e-100


def test_bad_scores_are_refused():
    with pytest.raises(ValueError, match="side b has no scored image"):
        auc([1.0], [])
    with pytest.raises(ValueError, match="side a has non-finite critic scores"):
        p_value([1.0, float("nan")], [0.0])


def test_p_values_read_at_a_glance():
    assert format_p(1e-40) == "p < 1e-30"
    assert format_p(3.2e-7) == "p = 3e-07"
    assert format_p(0.4234) == "p = 0.42" and format_p(0.0123) == "p = 0.012"
