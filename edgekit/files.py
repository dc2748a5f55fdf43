"""Facts about files for reports (size, gzip size, digest) and atomic output folders."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

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


@contextmanager
def atomic_output_dir(out: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``out``; on success it replaces ``out``.

    An interrupted or failed build leaves ``out`` as it was (absent, or the previous
    result), never half-written. A non-empty folder that is not an earlier edgekit
    output is refused rather than deleted.
    """
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"output {out} exists and is not a folder")
        if any(out.iterdir()) and not (out / _OUTPUT_MARKER).is_file():
            raise ConfigError(f"output folder {out} is not empty and holds no edgekit build: choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            old = out.with_name(f".{out.name}.old-{tmp.name.rsplit('-', 1)[-1]}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
