import numpy as np
import pytest

from edgekit.data import Augmentation, Flip, from_arrays
from edgekit.errors import ConfigError


def test_parse_overrides_defaults():
    aug = Augmentation.parse("flip=none, rotation=0.2,noise=3")
    assert aug.flip == Flip.NONE and aug.rotation == 0.2 and aug.noise == 3.0
    assert aug.zoom == Augmentation().zoom
    assert Augmentation.parse("default") == Augmentation()
    assert not Augmentation.parse("none").enabled


@pytest.mark.parametrize("spec", ["spin=0.1", "rotation", "rotation=abc", "zoom=1.5", "flip=diagonal", "noise=-1"])
def test_parse_rejects_bad_specs(spec):
    with pytest.raises(ConfigError, match="augmentation"):
        Augmentation.parse(spec)


def test_pipeline_augments_training_batches_only():
    from edgekit.data.pipeline import to_tf_dataset

    rng = np.random.default_rng(0)
    data = from_arrays(rng.integers(0, 256, (16, 12, 12, 3), dtype=np.uint8), [0, 1] * 8)
    strong = Augmentation(flip=Flip.BOTH, rotation=0.3, zoom=0.3, translation=0.3, contrast=0.5, noise=10)

    val = np.concatenate([x.numpy() for x, _ in to_tf_dataset(data, batch_size=5, training=False)])
    np.testing.assert_array_equal(val, data.images.astype(np.float32))

    train_x, train_y = zip(*[(x.numpy(), y.numpy()) for x, y in
                             to_tf_dataset(data, batch_size=5, training=True, augmentation=strong, seed=1)])
    train_x = np.concatenate(train_x)
    assert sorted(np.concatenate(train_y).tolist()) == sorted(data.labels.tolist())
    assert train_x.min() >= 0 and train_x.max() <= 255
    # Shuffled and transformed: no training image comes back unchanged.
    unchanged = sum(any(np.array_equal(t, v) for v in val) for t in train_x)
    assert unchanged == 0
