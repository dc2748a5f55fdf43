"""Write scikit-learn's handwritten digits (UCI, 1,797 real 8x8 scans) as a class-per-folder PNG tree.

    python samples/make_digits.py samples/digits

The images are generated rather than committed: 1,797 tiny files would swamp the
repository, and scikit-learn ships the scans themselves.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def write_digits(out: Path, *, classes: range | list[int] = range(10), per_class: int | None = None) -> int:
    """Write ``out/<digit>/<index>.png``; returns the number of files written."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    # The scans hold 17 grey levels (0-16); stretch them over 0-255 like an 8-bit image.
    pixels = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
    written = 0
    for digit in classes:
        folder = out / str(digit)
        folder.mkdir(parents=True, exist_ok=True)
        indices = np.flatnonzero(digits.target == digit)
        if per_class is not None:
            indices = indices[:per_class]
        for index in indices:
            Image.fromarray(pixels[index], mode="L").save(folder / f"{index:04d}.png")
            written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?", default=Path(__file__).parent / "digits")
    args = parser.parse_args(argv)
    count = write_digits(args.out)
    print(f"wrote {count} images to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
