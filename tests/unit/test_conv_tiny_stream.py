"""The Python mirrors of the small-K convolution's and the small-depth FC's constant words
(lower.conv_tiny_stream, lower.fc_small_stream; eml_kernels.c convtk, fcs): every weight lands where the
kernel's SMLAD / byte reads take it, per kind."""

from __future__ import annotations

import numpy as np

from crisp_eml.compiler.c.lower import conv_tiny_stream, fc_small, fc_small_stream


def _half(word: int, i: int) -> int:
    return ((int(word) & 0xFFFFFFFF) >> (16 * i) & 0xFFFF) - (0x10000 if (int(word) >> (16 * i + 15)) & 1 else 0)


def _byte(word: int, i: int) -> int:
    b = (int(word) & 0xFFFFFFFF) >> (8 * i) & 0xFF
    return b - 256 if b >= 128 else b


def test_stream_layout_per_kind() -> None:
    rng = np.random.default_rng(0)
    for k in range(1, 13):
        oc = 3
        w = rng.integers(-128, 128, (oc, k))
        w[0, 0] = -128
        plain = rng.integers(-(1 << 20), 1 << 20, oc)
        mult, shifts, out_off = [1 << 30, 3 << 28, 5 << 27], [-1, -7, -22], -5
        run = conv_tiny_stream(w, plain, mult, shifts, out_off).reshape(oc, -1)
        kind = 0 if k <= 2 else -(-k // 4)
        nw = {0: 1, 1: 2}.get(kind, kind)
        assert run.shape[1] == 4 + nw
        assert run[:, 0].tolist() == (2 * plain).tolist()
        assert run[:, -3].tolist() == mult
        assert run[:, -1].tolist() == [-s for s in shifts]
        assert run[:, -2].tolist() == [(1 << (-s - 1)) + out_off * (1 << -s) for s in shifts]
        for c in range(oc):
            got = []
            for j in range(-(-k // 4) * 4 if k > 2 else 2):
                if kind == 0:  # (2 k0, 2 k1)
                    got.append(_half(run[c, 1], j) // 2)
                elif kind == 1:  # (2 k0, 2 k2), (2 k1, 2 k3)
                    got.append(_half(run[c, 1 + (j & 1)], j >> 1) // 2)
                else:  # bytes k0..k3 of each group
                    got.append(_byte(run[c, 1 + (j >> 2)], j & 3))
            assert got[:k] == w[c].tolist() and not any(got[k:]), (k, c)


def test_clamped_stream_folds_act_min() -> None:
    """The clamped variants' addend carries -act_min * 2^e (the kernel requantizes to output - act_min), the other
    words are the unclamped stream's; the addend stays within the kernel's 2^30 bound for any act_min."""
    w = np.arange(-6, 6).reshape(4, 3)
    plain = np.array([5, -7, 9, 0])
    mult, shifts = [1 << 30, 3 << 28, 5 << 27, (1 << 31) - 1], [-1, -7, -22, -22]
    base = conv_tiny_stream(w, plain, mult, shifts, -5).reshape(4, -1)
    for act_min in (-128, -6, 0, 127):
        run = conv_tiny_stream(w, plain, mult, shifts, -5, act_min).reshape(4, -1)
        assert np.array_equal(run[:, :-2], base[:, :-2]) and np.array_equal(run[:, -1], base[:, -1])
        assert run[:, -2].tolist() == [(1 << (-s - 1)) + (-5 - act_min) * (1 << -s) for s in shifts]
    for out_off, act_min in ((127, -128), (-128, 127)):
        c = conv_tiny_stream(w, plain, mult, [-22] * 4, out_off, act_min).reshape(4, -1)[:, -2]
        assert int(np.abs(c).max()) < 1 << 30


def test_fc_small_stream_layout() -> None:
    rng = np.random.default_rng(1)
    for k in range(1, 13):
        od = 5
        w = rng.integers(-128, 128, (od, k))
        w[1, -1] = -128
        folded = rng.integers(-(1 << 20), 1 << 20, od)
        st = fc_small_stream(w, folded, 3 << 28, -9, 17)
        assert st[:3].tolist() == [3 << 28, (1 << 8) + 17 * (1 << 9), 9]
        g = -(-k // 4)
        rows = st[3:].reshape(od, 1 + 2 * g)
        assert rows[:, 0].tolist() == (2 * folded).tolist()
        for o in range(od):
            got = [_half(rows[o, 1 + 2 * (j >> 2) + (j & 1)], (j >> 1) & 1) // 2 for j in range(4 * g)]
            assert got[:k] == w[o].tolist() and not any(got[k:]), (k, o)


def test_fc_small_takes_small_per_tensor_layers_only() -> None:
    assert fc_small(12, False, True, [-5])
    assert not fc_small(13, False, True, [-5])  # deeper: the general kernel
    assert not fc_small(10, True, True, [-5, -6])  # per-channel
    assert not fc_small(10, False, False, [-5])  # no fast requantization
    assert not fc_small(10, False, True, [-23])  # the rounding addend would not fit
