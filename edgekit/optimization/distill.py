"""Knowledge distillation: a student learns from a teacher's softened outputs plus the labels.

loss = alpha * CE(labels, student) + (1 - alpha) * T^2 * KL(teacher_T || student_T), where
``_T`` is the softmax at temperature T (Hinton et al., 2015; the Keras distillation
example). edgekit models end in a softmax, so logits are recovered as log-probabilities,
which a softmax at any temperature accepts unchanged up to a constant.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit._tf import keras_module, tensorflow
from edgekit.errors import ConfigError
from edgekit.files import read_labels
from edgekit.tables import check_fields


@dataclass(frozen=True)
class Distill:
    # A .keras classifier, or "self": the float model this build trained, teaching the
    # optimisation stages.
    teacher: str
    temperature: float = 4.0
    # Weight of the hard-label loss; the rest goes to matching the teacher.
    alpha: float = 0.1

    def __post_init__(self) -> None:
        check_fields(self)

    def validate(self) -> None:
        if self.temperature <= 0:
            raise ConfigError(f"distillation temperature must be positive, got {self.temperature}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"distillation alpha must be in [0, 1], got {self.alpha}")
        if self.teacher != "self" and not Path(self.teacher).is_file():
            raise ConfigError(f"teacher model {self.teacher} does not exist")


def load_teacher(path: str, class_names: tuple[str, ...], *, trust: bool = False) -> Any:
    """Load a .keras teacher and check it predicts the same classes, in the same order;
    code in the file is refused unless ``trust``."""
    from edgekit.model_files import load_keras_model

    teacher = load_keras_model(path, trust=trust, role="--distill-from", what="teacher model")
    outputs = teacher.output_shape[-1]
    if outputs != len(class_names):
        raise ConfigError(f"teacher {path} predicts {outputs} classes, the data has {len(class_names)}")
    labels = Path(path).with_name("labels.txt")
    if labels.is_file():
        names = tuple(read_labels(labels))
        if names != tuple(class_names):
            raise ConfigError(f"teacher {path} was trained on classes {', '.join(names)}, "
                              f"not {', '.join(class_names)}")
    teacher.trainable = False
    return teacher


def distiller(student: Any, teacher: Any, config: Distill) -> Any:
    """A Keras model that trains ``student`` against ``teacher``; fit/evaluate report the student."""
    tf = tensorflow()
    keras = keras_module()
    teacher_size = tuple(teacher.input_shape[1:3])

    class Distiller(keras.Model):
        def __init__(self):
            super().__init__(name="distiller")
            self.student = student
            self.teacher = teacher
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

        @property
        def metrics(self):
            return [self.loss_tracker, self.accuracy]

        def call(self, x, training=False):
            return self.student(x, training=training)

        def _soft(self, probabilities):
            return tf.nn.softmax(tf.math.log(probabilities + 1e-8) / config.temperature)

        def train_step(self, data):
            x, y = data
            teacher_x = x if tuple(x.shape[1:3]) == teacher_size else tf.image.resize(x, teacher_size)
            target = self._soft(self.teacher(teacher_x, training=False))
            with tf.GradientTape() as tape:
                predicted = self.student(x, training=True)
                hard = keras.losses.sparse_categorical_crossentropy(y, predicted)
                soft = keras.losses.kl_divergence(target, self._soft(predicted)) * config.temperature ** 2
                loss = tf.reduce_mean(config.alpha * hard + (1.0 - config.alpha) * soft)
            grads = tape.gradient(loss, self.student.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.student.trainable_weights))
            self.loss_tracker.update_state(loss)
            self.accuracy.update_state(y, predicted)
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            x, y = data
            predicted = self.student(x, training=False)
            self.loss_tracker.update_state(keras.losses.sparse_categorical_crossentropy(y, predicted))
            self.accuracy.update_state(y, predicted)
            return {m.name: m.result() for m in self.metrics}

    return Distiller()
