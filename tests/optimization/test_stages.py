"""Pruning, clustering and QAT on the digits sample, checked in the .tflite itself."""

import json

import numpy as np
import pytest

import edgekit
import edgekit.recipe
from edgekit.analyze import read_model
from edgekit.analyze.weights import constant_array, kernel_stats
from edgekit.recipe import load_recipe
from tests.conftest import REPO

BASE = load_recipe(REPO / "samples" / "digits.toml").replace(progress=False)


def _inner_kernels(stats):
    """The kernels the stages touch: all but the first conv and the classifier (excluded by default)."""
    convs = [k for k in stats if k.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    denses = [k for k in stats if k.opcode == "FULLY_CONNECTED"]
    return convs[1:] + denses[:-1]


@pytest.mark.slow
def test_prune_cluster_qat_keeps_zeros_and_clusters_in_the_tflite(digits_dir, tmp_path):
    result = edgekit.build(digits_dir, BASE, target="edgetpu", out=tmp_path / "pcqat", stages=[
        {"kind": "prune", "sparsity": 0.5}, {"kind": "cluster", "clusters": 16}, {"kind": "qat"}])
    report = result.report
    assert [s["name"] for s in report["stages"]] == ["prune", "cluster", "qat"]
    assert report["stages"][1]["details"]["preserve_sparsity"] is True
    assert report["stages"][2]["details"]["scheme"] == "PCQAT"
    assert report["stages"][2]["details"]["shared_codebook_layers"] == ["conv1", "conv2", "conv3"]

    stats = kernel_stats(result.tflite_path)
    inner = _inner_kernels(stats)
    assert len(inner) == 3
    for kernel in inner:
        assert kernel.dtype == "INT8"
        assert kernel.zero_fraction >= 0.45, kernel
        assert kernel.max_distinct_per_channel <= 17, kernel
        # One codebook per kernel: every channel stores the same 16 codes (the zero among them).
        assert kernel.distinct_values <= 16, kernel
    assert report["weights"] == [k.to_dict() for k in stats]
    assert report["tflite"]["accuracy"] >= report["keras"]["accuracy"] - 0.02
    assert report["check"]["fully_supported"]

    replay = load_recipe(result.out / "recipe.toml")
    assert [s.name for s in replay.stages] == ["prune", "cluster", "qat"] and replay.target.target == "edgetpu"
    assert (result.out / "recipe.toml").read_text() == edgekit.recipe.dump_recipe(replay)

    # Each step is judged against the model it was given.
    *each, stages, conversion = report["changes"]
    assert [c["step"] for c in each] == ["stage prune", "stage cluster", "stage qat"]
    assert each[0]["before"] == report["keras"]["accuracy"] and each[-1]["after"] == stages["after"]
    assert [c["after"] for c in each] == [s["val_accuracy"] for s in report["stages"]]
    assert stages["step"] == "stages" and stages["before"] == report["keras"]["accuracy"]
    assert stages["after"] == report["stages"][-1]["val_accuracy"]
    assert conversion["step"] == "conversion" and conversion["before"] == stages["after"]
    assert conversion["after"] == report["tflite"]["accuracy"]
    assert report["tflite"]["compared_with"] == "keras after stages"


@pytest.mark.slow
def test_two_four_sparsity_in_every_pruned_kernel(small_digits_dir, tmp_path):
    result = edgekit.build(small_digits_dir, BASE, target="cpu", out=tmp_path / "24", epochs=6,
                           max_accuracy_drop=1.0, stages=[{"kind": "prune", "m_by_n": "2:4", "epochs": 2}])
    data = result.tflite_path.read_bytes()
    info = read_model(data)
    stats = kernel_stats(result.tflite_path)
    pruned = [k for k in _inner_kernels(stats)]
    assert pruned
    for kernel in pruned:
        op = info.main.ops[kernel.op_index]
        values = constant_array(data, info, 0, op.inputs[1])
        groups = values.reshape(-1, values.shape[-1] // 4, 4)  # input channels are the last axis
        assert np.all((groups == 0).sum(axis=-1) >= 2), kernel.layer
    # The first conv was excluded: it is dense.
    assert stats[0].zero_fraction < 0.2
    assert json.loads((result.out / "report.json").read_text())["stages"][0]["config"]["m_by_n"] == [2, 4]
