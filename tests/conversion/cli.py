"""`edgekit convert` run through the CLI, as the flag tests of each conversion step need it."""

from pathlib import Path


def convert_with_flag(model: Path, samples: Path, out: Path, flag: str) -> str:
    """Convert ``model`` with one extra ``flag`` and no SNR gate; the recipe it wrote."""
    from click.testing import CliRunner

    from edgekit.cli import cli

    result = CliRunner().invoke(cli, ["convert", str(model), "--calibration", str(samples), "--out", str(out),
                                      flag, "--min-snr", "0", "--quiet"])
    assert result.exit_code == 0, result.output
    return (out / "recipe.toml").read_text()
