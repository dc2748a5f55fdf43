import numpy as np
import pytest

from edgekit.errors import TrainingError
from edgekit.models.learned import check_learned, require_learned

BALANCED = np.repeat(np.arange(10), 36)  # 360 validation images, 10 classes


def test_chance_accuracy_has_not_learned():
    check = check_learned(0.11, BALANCED)
    assert check.majority_baseline == pytest.approx(0.1)
    assert not check.learned


def test_clearly_better_than_chance_has_learned():
    assert check_learned(0.2, BALANCED).learned


def test_the_baseline_is_the_largest_class_not_uniform_chance():
    labels = np.array([0] * 90 + [1] * 10)
    assert not check_learned(0.9, labels).learned
    assert check_learned(0.99, labels).learned


def test_a_few_lucky_images_are_not_enough():
    # 4 of 4 right on two balanced classes happens 1 time in 16 by guessing.
    assert not check_learned(1.0, np.array([0, 1, 0, 1])).learned


def test_the_error_names_the_step_and_the_baseline():
    with pytest.raises(TrainingError, match=r"stage prune: validation accuracy 0.1000 .* 0.1000 .*360"):
        require_learned(check_learned(0.1, BALANCED), "stage prune", "Try less.")
