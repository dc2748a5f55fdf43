"""Training-time augmentation, as configuration. The Keras layers are made only when training."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from edgekit._compat import StrEnum
from edgekit.errors import ConfigError, OptionError
from edgekit.tables import check_fields


class Flip(StrEnum):
    NONE = "none"
    HORIZONTAL = "horizontal"
    VERTICAL = "vertical"
    BOTH = "horizontal_and_vertical"


@dataclass(frozen=True)
class Augmentation:
    """Random transforms applied to training batches only (never to validation).

    Factors follow Keras' preprocessing layers: ``rotation`` is a fraction of a full
    turn, ``zoom`` and ``translation`` fractions of the image size, ``contrast`` a
    factor, ``noise`` the standard deviation in pixel units (0-255).
    """

    flip: Flip = Flip.HORIZONTAL
    rotation: float = 0.05
    zoom: float = 0.1
    translation: float = 0.1
    contrast: float = 0.1
    noise: float = 0.0

    def __post_init__(self) -> None:
        check_fields(self)
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "noise" and value < 0:
                raise OptionError(f.name, f"must be >= 0, got {value}")
            if f.name not in ("flip", "noise") and not 0 <= value < 1:
                raise OptionError(f.name, f"must be in [0, 1), got {value}")

    @property
    def enabled(self) -> bool:
        return self != Augmentation.off()

    @classmethod
    def off(cls) -> "Augmentation":
        return cls(flip=Flip.NONE, rotation=0.0, zoom=0.0, translation=0.0, contrast=0.0, noise=0.0)

    @classmethod
    def parse(cls, spec: str | None) -> "Augmentation":
        """``"default"``, ``"none"``, or ``key=value`` pairs over the defaults: ``"flip=none,rotation=0.1"``."""
        if spec is None or spec.strip() in ("", "default"):
            return cls()
        if spec.strip() in ("none", "off"):
            return cls.off()
        values: dict[str, Any] = {}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for part in spec.split(","):
            key, sep, raw = part.partition("=")
            key, raw = key.strip(), raw.strip()
            if not sep or key not in fields:
                known = ", ".join(fields)
                raise ConfigError(f"augmentation {part.strip()!r}: expected key=value with key one of {known}")
            if key == "flip":
                try:
                    values[key] = Flip(raw)
                except ValueError:
                    choices = ", ".join(f.value for f in Flip)
                    raise ConfigError(f"augmentation flip={raw}: use one of {choices}") from None
                continue
            try:
                number = float(raw)
            except ValueError:
                raise ConfigError(f"augmentation {key}={raw}: not a number") from None
            if number < 0 or (key != "noise" and number >= 1):
                bounds = "must be in [0, 1)" if key != "noise" else "must be >= 0"
                raise ConfigError(f"augmentation {key}={raw}: {bounds}")
            values[key] = number
        return cls(**values)

    def layers(self, keras: Any, seed: int) -> list:
        """The Keras preprocessing layers for this configuration, in application order."""
        out = []
        if self.flip != Flip.NONE:
            out.append(keras.layers.RandomFlip(self.flip.value, seed=seed))
        if self.rotation:
            out.append(keras.layers.RandomRotation(self.rotation, fill_mode="reflect", seed=seed + 1))
        if self.zoom:
            out.append(keras.layers.RandomZoom(self.zoom, fill_mode="reflect", seed=seed + 2))
        if self.translation:
            out.append(keras.layers.RandomTranslation(self.translation, self.translation, fill_mode="reflect",
                                                      seed=seed + 3))
        if self.contrast:
            out.append(keras.layers.RandomContrast(self.contrast, seed=seed + 4))
        if self.noise:
            out.append(keras.layers.GaussianNoise(self.noise, seed=seed + 5))
        return out
