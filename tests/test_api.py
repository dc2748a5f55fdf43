"""One API shape: every action exported from edgekit, what it acts on first, then the target."""

from __future__ import annotations

import inspect

import pytest

import edgekit
from edgekit.options import action_config

ACTIONS = ("build", "convert", "optimize", "check", "profile", "profile_all", "estimate", "calibrate", "evaluate",
           "predict", "verify")


def test_every_action_is_exported_from_edgekit_and_no_function_shadows_a_package():
    import importlib

    for name in ACTIONS:
        assert name in edgekit.__all__ and callable(getattr(edgekit, name)), name
        # edgekit.<action> is the function; no module of that name hides behind it.
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"edgekit.{name}")


@pytest.mark.parametrize("name", ["build", "convert", "check", "estimate", "verify", "profile", "profile_all"])
def test_an_action_takes_what_it_acts_on_then_the_target(name):
    parameters = list(inspect.signature(getattr(edgekit, name)).parameters.values())
    assert parameters[1].name == "target", [p.name for p in parameters]
    assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in parameters[2:]), name


def test_the_target_given_second_goes_over_the_configuration_and_keywords_over_both():
    base = edgekit.BuildConfig().replace(target="gpu", epochs=3)
    config = action_config(edgekit.BuildConfig(), "edgetpu", base, {"epochs": 4})
    assert (config.target.target, config.training.epochs) == ("edgetpu", 4)
    # A configuration in the target's place, as calls passed it before the target came second.
    assert action_config(edgekit.BuildConfig(), base, None, {}) == base
    with pytest.raises(edgekit.ConfigError, match="configuration once"):
        action_config(edgekit.BuildConfig(), base, base, {})


def test_a_build_for_an_unknown_target_given_second_fails_before_reading_anything(small_digits_dir, tmp_path):
    with pytest.raises(edgekit.ConfigError, match="no-such-target"):
        edgekit.build(small_digits_dir, "no-such-target", out=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
