"""Knowledge distillation: a student learns from a teacher's softened outputs plus the labels.

loss = alpha * CE(labels, student) + (1 - alpha) * T^2 * KL(teacher_T || student_T), where
``_T`` is the softmax at temperature T (Hinton et al., 2015; the Keras distillation
example). edgekit models end in a softmax, so logits are recovered as log-probabilities,
which a softmax at any temperature accepts unchanged up to a constant. A detector learns
from a detector teacher by :func:`detection_distiller`.
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
    # A .keras model of the build's task (a classifier, or a detector on the same anchors),
    # or "self": the float model this build trained, teaching the optimisation stages.
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
    _check_teacher_labels(path, class_names)
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


def load_detector_teacher(path: str, class_names: tuple[str, ...], anchors: Any, *, trust: bool = False) -> Any:
    """Load a .keras detector teacher (one edgekit built) and check it detects the same classes
    on the same anchors as the student: its scores are matched anchor by anchor."""
    import numpy as np

    from edgekit.model_files import load_keras_model
    from edgekit.models.detector import anchors_of

    teacher = load_keras_model(path, trust=trust, role="--distill-from", what="teacher model")
    try:
        theirs = anchors_of(teacher)
    except ValueError:
        raise ConfigError(f"teacher {path} is not an edgekit detector (no box heads): distil a detector from a "
                          "model.keras that edgekit build --task detect wrote") from None
    classes = int(teacher.outputs[1].shape[-1]) if len(teacher.outputs) == 2 else -1
    if classes != len(class_names):
        raise ConfigError(f"teacher {path} detects {classes} classes, the data has {len(class_names)}")
    _check_teacher_labels(path, class_names)
    if theirs.shape != anchors.shape or not np.allclose(theirs, anchors):
        raise ConfigError(f"teacher {path} has {len(theirs)} anchors, not the student's {len(anchors)} at the same "
                          "places: its scores cannot be matched anchor by anchor. Give the student the teacher's "
                          "--image-size and a backbone of the same stride (another --alpha of the same backbone)")
    teacher.trainable = False
    return teacher


def frozen_copy(model: Any) -> Any:
    """A frozen copy of ``model``, teaching the stages that go on to change the weights the
    model itself shares with them (distillation from 'self')."""
    teacher = keras_module().models.clone_model(model)
    teacher.set_weights(model.get_weights())
    teacher.trainable = False
    return teacher


def _check_teacher_labels(path: str, class_names: tuple[str, ...]) -> None:
    labels = Path(path).with_name("labels.txt")
    if labels.is_file():
        names = tuple(read_labels(labels))
        if names != tuple(class_names):
            raise ConfigError(f"teacher {path} was trained on classes {', '.join(names)}, "
                              f"not {', '.join(class_names)}")


def detection_distiller(student: Any, teacher: Any, config: Distill) -> Any:
    """A Keras model that trains a detector ``student`` against a detector ``teacher`` on the
    same anchors; fit/evaluate report the student's own detection loss.

    loss = alpha * detection loss + (1 - alpha) * (T^2 * class term + box term). The class
    term is Generalized Focal Loss's quality focal loss (Li et al., 2020) with the teacher's
    scores at temperature T as soft targets: binary cross-entropy weighted by |target -
    student|^2, so the thousands of background anchors where the two agree add next to
    nothing, and normalised by the batch's positive anchors as the focal loss is. The box term
    is smooth L1 to the teacher's box encodings, weighted by the teacher's top class score, so
    the student learns where the teacher sees an object, matched anchor or not.
    """
    from edgekit.models.detector import losses

    tf = tensorflow()
    keras = keras_module()
    box_loss, class_loss = losses()
    teacher_size = tuple(teacher.input_shape[1:3])
    temperature = config.temperature

    def soft(p):
        p = tf.clip_by_value(p, 1e-6, 1 - 1e-6)
        return tf.sigmoid((tf.math.log(p) - tf.math.log(1 - p)) / temperature)

    class DetectionDistiller(keras.Model):
        def __init__(self):
            super().__init__(name="detection_distiller")
            self.student = student
            self.teacher = teacher
            self.loss_tracker = keras.metrics.Mean(name="loss")

        @property
        def metrics(self):
            return [self.loss_tracker]

        def call(self, x, training=False):
            return self.student(x, training=training)

        def train_step(self, data):
            x, (box_true, class_true) = data
            teacher_x = x if tuple(x.shape[1:3]) == teacher_size else tf.image.resize(x, teacher_size)
            teacher_boxes, teacher_scores = self.teacher(teacher_x, training=False)
            target = soft(teacher_scores)
            positives = tf.maximum(1.0, tf.reduce_sum(class_true[..., :-1]))
            confidence = tf.reduce_max(teacher_scores, axis=-1)
            with tf.GradientTape() as tape:
                boxes, scores = self.student(x, training=True)
                hard = box_loss(box_true, boxes) + class_loss(class_true, scores)
                q = tf.clip_by_value(soft(scores), 1e-6, 1 - 1e-6)
                focal = -tf.abs(target - q) ** 2 * (target * tf.math.log(q) + (1 - target) * tf.math.log(1 - q))
                class_term = tf.reduce_sum(focal) / positives * temperature ** 2
                error = tf.abs(boxes - teacher_boxes)
                huber = tf.reduce_sum(tf.where(error < 1.0, 0.5 * error ** 2, error - 0.5), axis=-1)
                box_term = tf.reduce_sum(huber * confidence) / tf.maximum(1.0, tf.reduce_sum(confidence))
                loss = config.alpha * hard + (1.0 - config.alpha) * (class_term + box_term)
            grads = tape.gradient(loss, self.student.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.student.trainable_weights))
            self.loss_tracker.update_state(loss)
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            x, (box_true, class_true) = data
            boxes, scores = self.student(x, training=False)
            self.loss_tracker.update_state(box_loss(box_true, boxes) + class_loss(class_true, scores))
            return {m.name: m.result() for m in self.metrics}

    return DetectionDistiller()
