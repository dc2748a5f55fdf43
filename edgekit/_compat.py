"""Small shims so the light package runs on Python 3.10 (Ubuntu 22.04, older Pi images)."""

import enum
import sys

if sys.version_info >= (3, 11):
    from enum import StrEnum

    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

    class StrEnum(str, enum.Enum):
        def __str__(self) -> str:
            return str(self.value)


__all__ = ["StrEnum", "tomllib"]
