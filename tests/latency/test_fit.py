"""The cost model's fit: channel tiles and per-row costs recovered from timings made to follow them."""

from __future__ import annotations

import pytest

from edgekit.latency.cost_model import Coefficients, padded_macs
from edgekit.latency.suite import fit


def test_a_convolution_with_one_output_channel_costs_as_much_as_a_whole_channel_tile():
    c = Coefficients(per_mmac_ms=1.0, channel_tile=16)
    assert c.predict(1_000_000, 0, channels=1) == pytest.approx(c.predict(16_000_000, 0, channels=16))
    assert padded_macs(1000, 17, 16) == pytest.approx(1000 * 32 / 17)
    assert padded_macs(1000, 17, 1) == 1000


def _rows(truth: Coefficients, shapes, op_class="conv") -> list[dict]:
    rows = []
    for n, (positions, k, channels) in enumerate(shapes):
        macs, moved = positions * k * channels, 4 * positions * (k + channels)
        rows.append({"name": f"{op_class}{n}", "dtype": "float32", "op_class": op_class, "delegated": True,
                     "macs": macs, "bytes": moved, "rows": positions, "channels": channels,
                     "ms": 0.001 + truth.predict(macs, moved, positions, channels), "builtin_ms": None})
    return rows


def test_the_fit_finds_the_channel_tile_and_per_row_cost_that_made_the_timings():
    truth = Coefficients(fixed_ms=0.002, per_mmac_ms=0.02, per_mb_ms=0.004, per_mrow_ms=0.5, channel_tile=8)
    shapes = [(3136, 32, 1), (3136, 64, 8), (4096, 200, 1), (4096, 144, 4), (12544, 27, 32), (784, 1152, 128),
              (196, 2304, 256), (50176, 16, 16), (3136, 288, 64), (784, 576, 3)]
    result = fit({"invoke_ms": 0.001, "threads": 1, "rows": _rows(truth, shapes)}, "made up")
    got = result.model.float32.conv
    assert got.channel_tile == 8
    assert got.per_mmac_ms == pytest.approx(0.02, rel=1e-3) and got.per_mrow_ms == pytest.approx(0.5, rel=1e-3)
    assert max(abs(e) for e in result.errors.values()) < 1e-3


def test_ops_without_macs_fit_no_tile():
    truth = Coefficients(per_mb_ms=0.01, per_mrow_ms=3.0)
    shapes = [(3136, 0, 32), (16384, 0, 1), (784, 0, 128), (65536, 0, 8), (196, 0, 512)]
    rows = [{**r, "macs": 0} for r in _rows(truth, shapes, "movement")]
    got = fit({"invoke_ms": 0.001, "threads": 1, "rows": rows}, "made up").model.float32.movement
    assert got.channel_tile == 1 and got.per_mrow_ms == pytest.approx(3.0, rel=1e-3)


def test_a_cost_model_without_transposed_convolutions_prices_them_as_convolutions():
    from edgekit.latency.cost_model import ClassCosts, OpClass

    conv, own, rest = Coefficients(per_mmac_ms=0.5), Coefficients(per_mmac_ms=2.0), Coefficients(per_mb_ms=1.0)
    assert ClassCosts(conv=conv, elementwise=rest).for_class(OpClass.TRANSPOSE_CONV) == conv
    assert ClassCosts(conv=conv, transpose_conv=own, elementwise=rest).for_class(OpClass.TRANSPOSE_CONV) == own
    assert ClassCosts(elementwise=rest).for_class(OpClass.TRANSPOSE_CONV) == rest
