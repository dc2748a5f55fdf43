"""Tasks: what differs between classification and detection; the rest is shared (builder.py)."""

from __future__ import annotations

from typing import Any, Sequence


def model_card(plan: Any, classes: Sequence[str], source: str, *, kind: str, name_suffix: str = "",
               architecture: str = "") -> dict:
    """The metadata's name, description, version, author, licence and labels: the build's
    metadata options, or what was built, from what, for which target."""
    from edgekit._version import __version__

    settings = plan.config.metadata
    height, width = plan.image_size
    shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
    backbone = plan.backbone.value
    return dict(
        name=settings.model_name or f"{source} {backbone}{name_suffix}",
        description=settings.model_description or (
            f"{kind}, {len(classes)} classes ({shown}); {backbone}{architecture} at {width}x{height}, "
            f"built by edgekit {__version__} for {plan.profile.id}."),
        version=settings.model_version, author=settings.model_author, license=settings.model_license,
        labels=tuple(classes))
