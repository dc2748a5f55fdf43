"""report.html: one self-contained page for a build, a conversion or a profile.

Plots come from matplotlib, which the ``build`` and ``report`` extras install; the
runtime side (check, profile, eval on a Pi) imports none of this unless asked for HTML.
"""

from __future__ import annotations

import json
from pathlib import Path

from edgekit.errors import ConfigError

REPORT_HTML = "report.html"


def write_html(folder: str | Path, out: str | Path | None = None) -> Path:
    """Render ``folder/report.json`` (a build's or a conversion's) to ``out``
    [default: ``folder/report.html``]; returns the path written."""
    folder = Path(folder)
    data = _read_report(folder / "report.json")
    recipe = folder / "recipe.toml"
    recipe_text = recipe.read_text(encoding="utf-8") if recipe.is_file() else None
    kind = data.get("kind") or ("build" if "training" in data else "convert" if "verification" in data else None)
    require_plots()
    if kind not in ("build", "convert"):
        raise ConfigError(f"{folder / 'report.json'} is not the report of an edgekit build or conversion")
    from edgekit.report.build_page import build_page
    from edgekit.report.convert_page import convert_page
    from edgekit.report.detect_page import detect_page

    try:
        if kind == "convert":
            page = convert_page(data, recipe_text)
        elif data.get("task") == "detect":
            page = detect_page(data, folder, recipe_text)
        else:
            page = build_page(data, folder, recipe_text)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        # An edited or truncated report: say which key, not where in the renderer.
        raise ConfigError(f"{folder / 'report.json'} is not a complete {kind} report "
                          f"({type(exc).__name__}: {exc})") from None
    return _write(page.render(), Path(out) if out is not None else folder / REPORT_HTML)


def write_profile_html(measurements: list[dict], out: str | Path) -> Path:
    """Render profile measurements (``Measurement.to_dict()``) to ``out``."""
    require_plots()
    from edgekit.report.profile_page import profile_page

    return _write(profile_page(measurements).render(), Path(out))


def _read_report(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist: give the folder an edgekit build or convert wrote") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not the report of an edgekit build or conversion")
    return data


def require_plots() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("HTML reports need matplotlib: pip install 'edgekit[report]'") from None


def _write(text: str, path: Path) -> Path:
    from edgekit.files import atomic_write

    # An interrupted render leaves the old page, not half of one.
    return atomic_write(path, text)
