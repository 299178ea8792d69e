import numpy as np
import pytest

from lirdrec_pyg.benchmark.significance import (compare, holm, paired_test,
                                                paired_values)


def test_holm_hand_computed():
    # sorted: 0.01 * 3 = 0.03; 0.03 * 2 = 0.06; 0.04 * 1 -> max(0.06, 0.04)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_finds_a_planted_difference_and_none_where_there_is_none():
    rng = np.random.default_rng(0)
    base = rng.random(400)
    better = np.clip(base + 0.05 + 0.05 * rng.standard_normal(400), 0, 1)
    assert paired_test(better, base) < 1e-6
    same = np.clip(base + 0.05 * rng.standard_normal(400), 0, 1)
    assert paired_test(same, base) > 0.05
    assert paired_test(base, base) == 1.0


def test_paired_values_align_users_and_average_seeds():
    a = {0: (np.array([1, 2, 3]), np.array([1.0, 0.0, 0.5])),
         1: (np.array([2, 3]), np.array([1.0, 0.5])),
         7: (np.array([1]), np.array([0.3]))}      # seed only a ran
    b = {0: (np.array([3, 1]), np.array([0.25, 0.0])),
         1: (np.array([3, 4]), np.array([0.75, 1.0]))}
    x, y = paired_values(a, b)
    # user 1: seed 0 only; user 3: seeds 0 and 1; users 2, 4 unpaired.
    assert x.tolist() == [1.0, 0.5]
    assert y.tolist() == [0.0, 0.5]


def test_compare_marks_wins_losses_and_ties_after_holm():
    rng = np.random.default_rng(1)
    users = np.arange(300)
    target = rng.random(300)
    runs = {
        'worse': target - 0.1 * rng.random(300),
        'better': target + 0.1 * rng.random(300),
        'same': target + 0.01 * rng.standard_normal(300),
    }
    out = compare({0: (users, target)},
                  {k: {0: (users, v)} for k, v in runs.items()})
    assert out['worse']['outcome'] == 'win'
    assert out['better']['outcome'] == 'loss'
    assert out['same']['outcome'] == 'tie'
    for row in out.values():
        assert row['users'] == 300 and row['p_holm'] >= row['p']
