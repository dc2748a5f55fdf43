import numpy as np

from edgekit.data import from_arrays
from edgekit.data.pipeline import to_tf_dataset
from edgekit.models import TrainConfig, WeightsSpec, build_backbone, build_classifier, train
from edgekit.models.classifier import leaf_layers
from edgekit.progress import Progress


class Recorder(Progress):
    def __init__(self):
        self.epochs = []

    def epoch(self, phase, epoch, epochs, **metrics):
        self.epochs.append((phase, epoch, epochs))


def _tiny_data():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
    y = np.repeat([0, 1], 20)
    x[y == 1, :8] = 255  # a learnable difference
    data = from_arrays(x, y)
    ds = to_tf_dataset(data, batch_size=8, training=False)
    return ds


def test_pretrained_runs_head_then_fine_tune_with_bn_frozen():
    ds = _tiny_data()
    backbone = build_backbone("small_cnn", (16, 16), alpha=0.5, weights=WeightsSpec.parse("none"))
    model = build_classifier(backbone, 2)
    before = [w.copy() for w in backbone.get_weights()]
    recorder = Recorder()
    config = TrainConfig(epochs=2, fine_tune_epochs=2, fine_tune_layers=3, patience=0)
    phases = train(model, ds, ds, config, pretrained=True, progress=recorder)
    assert [p.name for p in phases] == ["head", "fine_tune"]
    assert [p.epochs_run for p in phases] == [2, 2]
    assert recorder.epochs[0] == ("head", 1, 2) and recorder.epochs[-1] == ("fine_tune", 2, 2)
    assert phases[1].learning_rate == config.fine_tune_learning_rate

    layers = leaf_layers(backbone)
    trainable = [layer.name for layer in layers if layer.trainable]
    # The top 3 leaf layers are relu3, bn3, conv3: BatchNorm stays frozen.
    assert trainable == ["conv3", "relu3"]
    after = backbone.get_weights()
    changed = [not np.array_equal(a, b) for a, b in zip(before, after)]
    # Only conv3's kernel moved; the earlier convs and every BatchNorm statistic did not.
    names = [w.name for w in backbone.weights]
    moved = {n for n, c in zip(names, changed) if c}
    assert moved == {n for n in names if n.startswith("conv3")}


def test_from_scratch_is_one_phase_with_the_whole_budget():
    ds = _tiny_data()
    model = build_classifier(build_backbone("small_cnn", (16, 16), alpha=0.5, weights=WeightsSpec.parse("none")), 2)
    phases = train(model, ds, ds, TrainConfig(epochs=2, fine_tune_epochs=1, patience=0), pretrained=False,
                   progress=Progress())
    assert [(p.name, p.epochs_run) for p in phases] == [("scratch", 3)]
