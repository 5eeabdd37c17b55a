"""Small-data training helpers without TensorFlow: augmentation transforms, k-fold folds, the training plan
(validation mode, folds, patience, augmentation derived from the data) and the k-fold epoch choice."""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.learn import augment as aug
from crisp_eml.learn.blocks import parse_block
from crisp_eml.learn.epoch_choice import choose_epochs, smooth
from crisp_eml.learn.split import fold_ids
from crisp_eml.learn.training_plan import SMALL_GROUPS, auto_patience, plan_training


def _series(n: int = 6, t: int = 40, axes: int = 3) -> np.ndarray:
    tt = np.linspace(0, 4 * np.pi, t)
    return np.stack([np.stack([np.sin(tt * (a + 1) + i) for a in range(axes)], axis=1) for i in range(n)]
                    ).astype(np.float32)


def test_jitter_and_scale_keep_shape_are_seeded_and_change_the_data() -> None:
    X, std = _series(), np.array([1.0, 2.0, 0.5], np.float32)
    for fn in (lambda r: aug.jitter(X, 0.1, std, r), lambda r: aug.scale(X, 0.2, r)):
        a, b, c = fn(np.random.default_rng(1)), fn(np.random.default_rng(1)), fn(np.random.default_rng(2))
        assert a.shape == X.shape and a.dtype == np.float32
        assert np.array_equal(a, b) and not np.array_equal(a, c) and not np.allclose(a, X)
    noise = aug.jitter(np.zeros((2000, 1, 3), np.float32), 0.1, std, np.random.default_rng(0)) / 0.1
    assert np.allclose(noise.reshape(-1, 3).std(axis=0), std, rtol=0.1)  # noise follows each axis' spread
    s = aug.scale(X + 2, 0.2, np.random.default_rng(3)) / (X + 2)
    assert np.allclose(s, s[:, :1, :], atol=1e-4) and (abs(s - 1) <= 0.2 + 1e-5).all()  # one factor per axis


def test_time_warp_is_a_monotone_resampling_of_the_same_length() -> None:
    for seed in range(20):
        path = aug.warp_path(50, 0.5, 4, np.random.default_rng(seed))
        assert path.shape == (50,) and path[0] == 0 and path[-1] == pytest.approx(49)
        assert (np.diff(path) > 0).all()  # time never runs backwards
        assert not np.allclose(path, np.arange(50))
    X = _series()
    a = aug.time_warp(X, 0.3, 4, np.random.default_rng(5))
    assert a.shape == X.shape and np.array_equal(a, aug.time_warp(X, 0.3, 4, np.random.default_rng(5)))
    assert not np.allclose(a, X)
    assert np.allclose(a[:, 0], X[:, 0]) and np.allclose(a[:, -1], X[:, -1])  # ends stay, the inside moves
    ramp = np.arange(30, dtype=np.float32).reshape(1, 30, 1)
    assert (np.diff(aug.time_warp(ramp, 0.5, 4, np.random.default_rng(0))[0, :, 0]) > 0).all()
    assert np.allclose(aug.time_warp(X, 0.0, 4, np.random.default_rng(0)), X, atol=1e-5)  # strength 0: no change


def test_window_shift_pads_with_the_edge_row_or_wraps() -> None:
    w = np.arange(10, dtype=np.float32).reshape(5, 2)
    assert aug.shift_rows(w, 2).tolist() == [[0, 1], [0, 1], [0, 1], [2, 3], [4, 5]]
    assert aug.shift_rows(w, -2).tolist() == [[4, 5], [6, 7], [8, 9], [8, 9], [8, 9]]
    assert aug.shift_rows(w, 2, "wrap").tolist() == np.roll(w, 2, axis=0).tolist()
    assert np.array_equal(aug.shift_rows(w, 0), w)
    X = _series()
    a, b = aug.shift(X, 0.2, "edge", np.random.default_rng(4)), aug.shift(X, 0.2, "edge", np.random.default_rng(4))
    assert a.shape == X.shape and np.array_equal(a, b) and not np.array_equal(a, X)


def test_augment_applies_every_time_series_transform_and_validates_options() -> None:
    X, std = _series(), np.ones(3, np.float32)
    opts = aug.options(True)
    assert opts is not None and opts["shift_mode"] == "edge" and opts["time_warp"] > 0
    a = aug.augment(X, "raw-motion", opts, np.random.default_rng(1), std)
    assert a.shape == X.shape and np.array_equal(a, aug.augment(X, "raw-motion", opts, np.random.default_rng(1), std))
    only_warp = aug.options({"noise": 0, "scale": 0, "shift": 0, "time_warp": 0.3})
    assert only_warp is not None
    w = aug.augment(X, "raw-motion", only_warp, np.random.default_rng(1), std)
    assert not np.allclose(w, X) and np.allclose(w[:, 0], X[:, 0])  # warped, not noisy
    one_axis = aug.augment(X[:, :, 0], "raw-motion", opts, np.random.default_rng(1), std[:1])
    assert one_axis.shape == X[:, :, 0].shape and not np.allclose(one_axis, X[:, :, 0])
    for bad, field in (({"jitter": 0.1}, "learning.params.augment"),
                       ({"noise": 3}, "learning.params.augment.noise"),
                       ({"shift_mode": "mirror"}, "learning.params.augment.shift_mode"),
                       ("yes", "learning.params.augment")):
        with pytest.raises(InputError) as ei:
            parse_block({"params": {"augment": bad}})
        assert ei.value.field == field


def test_folds_keep_groups_together_are_stratified_and_seeded() -> None:
    groups = np.repeat([f"r{i:02d}" for i in range(30)], 3)
    labels = np.repeat(["a"] * 12 + ["b"] * 18, 3)
    f = fold_ids(groups, labels, 5, seed=1)
    assert set(f.tolist()) == set(range(5))
    for g in np.unique(groups):
        assert len(set(f[groups == g].tolist())) == 1
    for k in range(5):  # each fold holds 12/5 ~ 2-3 recordings of 'a' and 18/5 ~ 3-4 of 'b'
        in_fold = set(groups[f == k].tolist())
        assert 2 <= sum(g < "r12" for g in in_fold) <= 3 and 3 <= sum(g >= "r12" for g in in_fold) <= 4
    assert np.array_equal(f, fold_ids(groups, labels, 5, seed=1))
    assert not np.array_equal(f, fold_ids(groups, labels, 5, seed=2))
    with pytest.raises(InputError):
        fold_ids(groups, labels, 1, seed=0)


def _plan(n_groups: int, per_group: int = 1, classes: int = 2, kind: str = "spectral", **params: object):  # type: ignore[no-untyped-def]
    groups = np.repeat([f"g{i}" for i in range(n_groups)], per_group)
    labels = np.repeat([f"c{i % classes}" for i in range(n_groups)], per_group)
    return plan_training({**parse_block(None).params, **params}, groups=groups, labels=labels, kind=kind)


def test_plan_uses_kfold_and_augmentation_for_small_data_only() -> None:
    small = _plan(67, kind="raw-motion")
    assert small.validation == "kfold" and small.folds == 5 and small.small
    assert small.augment == {"time_warp": 0.0, "shift": 0.0}  # one window per recording: alignment matters
    assert _plan(40, per_group=17, kind="raw-motion").augment is True  # sliding windows: every transform
    big = _plan(SMALL_GROUPS * 2, kind="raw-motion")
    assert big.validation == "split" and big.augment is False and big.folds is None
    rare = _plan(400, classes=40)  # 10 recordings per class: too few to hold 4 of each out
    assert rare.validation == "kfold" and rare.folds == 5
    assert _plan(6, classes=3).folds == 2  # two recordings of the rarest class
    assert _plan(60, kind="spectral").augment is False
    kept = _plan(60, validation="split", augment=False, early_stopping_patience=3, folds=None)
    assert (kept.validation, kept.augment, kept.early_stopping_patience) == ("split", False, 3)
    assert _plan(60, validation="kfold", folds=3).folds == 3
    assert _plan(60, validation_split=0.0).validation == "split"  # no validation wanted: no k-fold either
    assert any("k-fold" in r for r in small.reasons)
    with pytest.raises(InputError) as ei:
        _plan(1, classes=1, validation="kfold")
    assert ei.value.field == "learning.params.validation"


def test_patience_follows_the_updates_per_epoch_within_the_budget() -> None:
    assert auto_patience(60, 54, 32) == 20  # 2 batches per epoch: capped at a third of the budget
    assert auto_patience(60, 544, 32) == 12  # 17 batches: ~200 updates
    assert auto_patience(60, 100_000, 32) == 6  # huge epochs: a tenth of the budget
    assert auto_patience(20, 100_000, 32) == 5  # never below 5
    assert auto_patience(60, 544, 8) < auto_patience(60, 544, 32)  # smaller batches: more updates per epoch


def _curves(acc: list[float], loss: list[float]) -> dict[str, list[float]]:
    return {"loss": loss, "val_loss": loss, "accuracy": acc, "val_accuracy": acc}


def test_epoch_choice_prefers_the_accuracy_plateau_over_the_lowest_loss() -> None:
    epochs = np.arange(1, 61)
    acc = np.minimum(0.95, 0.5 + epochs * 0.02)  # rises until epoch 23, then a plateau
    loss = 0.2 + (epochs - 15.0) ** 2 / 900  # lowest at epoch 15, then rises (over-confidence)
    rng = np.random.default_rng(0)
    folds = [_curves((acc + rng.normal(0, 0.01, 60)).tolist(), (loss + rng.normal(0, 0.01, 60)).tolist())
             for _ in range(5)]
    c = choose_epochs(folds, "classification")
    assert c.epochs > 40  # not the early-stopping epoch (~15)
    s = c.summary()
    assert s["chosen_epochs"] == c.epochs and len(s["cv_accuracy_folds"]) == 5
    assert s["cv_accuracy_mean"] == pytest.approx(np.mean([f["val_accuracy"][c.epochs - 1] for f in folds]))
    assert c.epochs == choose_epochs(folds, "classification").epochs
    falling = [_curves(list(np.r_[np.linspace(0.5, 0.9, 20), np.linspace(0.9, 0.6, 40)]), list(loss))] * 3
    assert 15 <= choose_epochs(falling, "classification").epochs <= 25  # overfits later: stop near the top
    reg = [{"loss": list(loss), "val_loss": list(loss)}] * 2
    assert choose_epochs(reg, "regression").epochs == 15
    nan = [_curves(list(acc), [*loss[:30], *[float("nan")] * 30])] * 2  # a diverged run is not a good run
    assert choose_epochs(nan, "classification").epochs <= 30
    assert np.allclose(smooth(np.array([0.0, 3.0, 0.0, 3.0]), 3), [1.5, 1.0, 2.0, 1.5])
