"""Facts about files for reports (size, gzip size, digest) and atomic output folders."""

from __future__ import annotations

import ctypes
import gzip
import hashlib
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from edgekit.errors import ConfigError, first_line

# Files whose presence marks a folder as an earlier edgekit output, safe to replace.
_OUTPUT_MARKER = "report.json"


def file_facts(path: str | Path) -> dict:
    """Bytes on disk, bytes after gzip -9 (what an app store or OTA update ships), sha256."""
    data = Path(path).read_bytes()
    return {
        "bytes": len(data),
        "gzip_bytes": len(gzip.compress(data, compresslevel=9, mtime=0)),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def weight_facts(model: Any) -> dict:
    """Bytes of a Keras model's weights as float32 and after gzip -9: comparable across
    optimisation stages, where pruning's zeros and clustering's shared values show."""
    import numpy as np

    data = b"".join(np.asarray(w, dtype=np.float32).tobytes() for w in model.get_weights())
    return {"bytes": len(data), "gzip_bytes": len(gzip.compress(data, compresslevel=9, mtime=0))}


def read_labels(path: str | Path) -> list[str]:
    """Class names from a labels file, one per line, blank lines ignored (as LiteRT's tools read it)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"labels file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"labels file {path} cannot be read: {first_line(exc)}") from None
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise ConfigError(f"labels file {path} is empty")
    return names


def write_labels(path: str | Path, names: Sequence[str]) -> None:
    Path(path).write_text("".join(f"{name}\n" for name in names), encoding="utf-8")


def check_output_dir(out: str | Path) -> None:
    """Refuse an output that is a file, a folder of something else, or in an unwritable place."""
    out = Path(out)
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise ConfigError(f"output {out} exists and is not a folder: choose another --out")
        if any(out.iterdir()) and not (out / _OUTPUT_MARKER).is_file():
            raise ConfigError(f"output folder {out} is not empty and holds no edgekit build: choose another --out")
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"output {out}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"output {out}: cannot write in {parent}")


@contextmanager
def atomic_output_dir(out: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``out``; on success it replaces ``out``.

    An interrupted or failed build leaves ``out`` as it was (absent, or the previous
    result), never half-written. A non-empty folder that is not an earlier edgekit
    output is refused rather than deleted.
    """
    out = Path(out)
    _restore_interrupted(out)
    check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield tmp
        if not out.exists():
            tmp.rename(out)
        elif _exchange(tmp, out):
            shutil.rmtree(tmp, ignore_errors=True)  # now the previous output
        else:
            # No atomic exchange here: the old folder is set aside under a name that the
            # next build restores from if this process dies between the two renames.
            old = out.with_name(f".{out.name}.old-{tmp.name.rsplit('-', 1)[-1]}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# renameat2(2), Linux 3.15+: "RENAME_EXCHANGE: Atomically exchange oldpath and newpath.
# Both pathnames must exist but may be of different types" (man 2 rename).
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step; False where the system cannot."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return done == 0


def _restore_interrupted(out: Path) -> None:
    """A build that died between setting the old output aside and renaming the new one
    in left only ``.NAME.old-*``: put it back before anything else."""
    if out.exists() or not out.parent.is_dir():
        return
    for old in sorted(out.parent.glob(f".{out.name}.old-*")):
        if (old / _OUTPUT_MARKER).is_file():
            old.rename(out)
            return


@contextmanager
def atomic_file(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """A scratch file beside ``path`` to write, moved onto ``path`` in one step when the block
    ends without an error and removed otherwise: readers see the old file or the new one,
    never half of one. ``suffix`` keeps a file type a reader checks (``.toml``)."""
    path = Path(path)
    fd, scratch = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{suffix}",
                                   dir=path.parent if path.parent.exists() else None)
    os.close(fd)
    try:
        yield Path(scratch)
        os.replace(scratch, path)
    finally:
        Path(scratch).unlink(missing_ok=True)


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """``data`` written to ``path`` whole or not at all (see :func:`atomic_file`)."""
    with atomic_file(path) as scratch:
        if isinstance(data, str):
            scratch.write_text(data, encoding="utf-8")
        else:
            scratch.write_bytes(data)
    return Path(path)

