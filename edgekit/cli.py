"""The ``edgekit`` command: a thin shell over the Python API.

Heavy imports (TensorFlow, via edgekit.builder's functions) happen inside command
bodies, so ``edgekit --help`` starts fast on a Raspberry Pi.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from edgekit._version import __version__
from edgekit.config import BuildConfig
from edgekit.conversion.config import ConvertConfig
from edgekit.errors import ConfigError, EdgekitError, OptionError
from edgekit.optimization.distill import Distill
from edgekit.optimization.stages import CentroidInit, Cluster, Prune, Schedule
from edgekit.targets import load_target
from edgekit.tuning.config import TuneConfig


def _fail(exc: EdgekitError) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="edgekit")
def cli() -> None:
    """Build, check and profile TensorFlow Lite models for edge devices.

    \b
      edgekit build DATA_DIR --target edgetpu --out build/tpu
      edgekit tune DATA_DIR --target rpi4 --max-latency-ms 8 --time-budget 30m --out tune
      edgekit convert model.keras --calibration samples.npz --target edgetpu
      edgekit metadata model.tflite
      edgekit check model.tflite --target edgetpu
      edgekit profile model.tflite --threads 4 --html latency.html
      edgekit report build/tpu
      edgekit calibrate --out pi4.toml --threads 4 --remote pi@raspberrypi.local
      edgekit estimate model.tflite --target pi4.toml
      edgekit eval model.tflite DATA_DIR
      edgekit targets
    """


def _config_options(command: Any, config: Any, skip: frozenset[str] = frozenset()) -> Any:
    """One click option per option of ``config`` (a frozen action configuration), with its
    default and help text from there, inserted after the command's arguments; ``skip``
    names options another configuration of the command already defines."""
    import dataclasses

    from edgekit.tables import hints

    params = []
    for name, value, f in config.options():
        if not f.metadata.get("cli") or "help" not in f.metadata or name in skip:
            continue
        owner = next((section for section in (getattr(config, g.name) for g in dataclasses.fields(config))
                      if dataclasses.is_dataclass(section) and name in {h.name for h in dataclasses.fields(section)}),
                     config)
        hint = hints(type(owner))[name]
        flag = "--" + name.replace("_", "-")
        names = [flag] + ([f.metadata["short"]] if "short" in f.metadata else [])
        kwargs: dict[str, Any] = {"help": f.metadata["help"]}
        if hint is bool:
            names = [f"{flag}/--no-{flag[2:]}"] + names[1:]
            kwargs.update(default=value, show_default=True)
        else:
            # A value with its own spellings (30m for a duration) is parsed by the field, not click.
            kind = click.STRING if "parse" in f.metadata and hint_is_number(hint) else _click_type(hint)
            kwargs.update(type=kind, default=_shown(value), show_default=value is not None)
        params.append(click.Option(names, **kwargs))
    arguments = sum(isinstance(p, click.Argument) for p in command.params)
    command.params[arguments:arguments] = params
    return command


def _with_flags(ctx: click.Context, config: Any, options: dict, quiet: bool, extra: dict | None = None) -> Any:
    """``config`` (the defaults or a recipe) with the flags typed on this command line and
    ``extra`` options over it; defaults do not override a recipe. A bad value typed as a
    flag is named as the flag."""
    given = {k: v for k, v in options.items()
             if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE}
    given.update(extra or {})
    try:
        return config.replace(**given, progress=not quiet)
    except OptionError as exc:
        if exc.key.split(".")[0] not in given:
            raise
        raise ConfigError(f"--{exc.key.replace('_', '-')} {exc.problem}") from None


def hint_is_number(hint: Any) -> bool:
    import types
    import typing

    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return hint in (int, float)


def _click_type(hint: Any) -> Any:
    import types
    import typing

    from edgekit._compat import StrEnum

    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = inner[0]
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return click.Choice([m.value for m in hint])
    if typing.get_origin(hint) is tuple:  # image_size: one side of a square
        return click.INT
    return {int: click.INT, float: click.FLOAT}.get(hint, click.STRING)


def _shown(value: Any) -> Any:
    from edgekit._compat import StrEnum
    from edgekit.data.augment import Augmentation

    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, Augmentation):
        return "none" if not value.enabled else "default"
    return value


def _default(cls: Any, name: str) -> Any:
    value = cls.__dataclass_fields__[name].default
    return getattr(value, "value", value)


def _stage_options(command: Any) -> Any:
    """The flags of the optimisation stages and distillation, shared by build and tune."""
    options = [
        click.option("--prune", "prune", default=None, metavar="SPARSITY|M:N",
                     help="Pruning stage: target sparsity (0.5) or structured m-by-n sparsity (2:4)."),
        click.option("--prune-schedule", type=click.Choice([m.value for m in Schedule]),
                     default=_default(Prune, "schedule"), show_default=True,
                     help="How sparsity rises during the pruning stage."),
        click.option("--cluster", "cluster", type=int, default=None, metavar="N",
                     help="Clustering stage: N shared weight values (keeps pruning's zeros)."),
        click.option("--cluster-init", type=click.Choice([m.value for m in CentroidInit]),
                     default=_default(Cluster, "init"), show_default=True,
                     help="How the clustering stage places its first centroids."),
        click.option("--qat", is_flag=True,
                     help="Quantisation-aware training stage (PQAT/CQAT/PCQAT after pruning/clustering)."),
        click.option("--distill-from", default=None, metavar="MODEL.keras|self",
                     help="Teacher for knowledge distillation: a .keras model of the same task (a classifier, or "
                          "with --task detect a detector edgekit built, on the student's anchors), or 'self' (the "
                          "float model teaches the optimisation stages)."),
        click.option("--distill-temperature", type=float, default=_default(Distill, "temperature"),
                     show_default=True,
                     help="Temperature of the teacher's and the student's scores (softmax, or a detector's sigmoid)."),
        click.option("--distill-alpha", type=float, default=_default(Distill, "alpha"), show_default=True,
                     help="Weight of the label loss; the rest matches the teacher."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _stage_extra(prune: str | None, prune_schedule: str, cluster: int | None, cluster_init: str, qat: bool,
                 distill_from: str | None, distill_temperature: float, distill_alpha: float) -> dict[str, Any]:
    """The build options the stage and distillation flags give."""
    extra: dict[str, Any] = {}
    stages = _stages_from_flags(prune, prune_schedule, cluster, cluster_init, qat)
    if stages:
        extra["stages"] = stages
    if distill_from is not None:
        extra["distill"] = {"teacher": distill_from, "temperature": distill_temperature, "alpha": distill_alpha}
    return extra


@cli.command()
@click.argument("data", type=click.Path(path_type=str))
@_stage_options
@click.option("--recipe", type=click.Path(path_type=str), default=None,
              help="A recipe .toml with these options and [[stages]]; flags given here override it.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.pass_context
def build(ctx: click.Context, data: str, quiet: bool, as_json: bool, prune: str | None, prune_schedule: str,
          cluster: int | None, cluster_init: str, qat: bool, distill_from: str | None, distill_temperature: float,
          distill_alpha: float, recipe: str | None, **options: Any) -> None:
    """Train a classifier on DATA and convert it for a target.

    DATA is a folder with one sub-folder of images per class (jpg, png, bmp, gif,
    webp). Before training, the untrained model is converted and checked against the
    target, so an impossible backbone/target pair fails in seconds. The .tflite is run
    on the validation images and judged against the Keras model it was converted
    from; the optimisation stages are judged against the trained model. Progress goes
    to stderr.
    """
    import edgekit
    from edgekit.recipe import load_recipe

    try:
        extra = _stage_extra(prune, prune_schedule, cluster, cluster_init, qat, distill_from, distill_temperature,
                             distill_alpha)
        base = load_recipe(recipe) if recipe is not None else BuildConfig()
        result = edgekit.build(data, config=_with_flags(ctx, base, options, quiet, extra))
    except EdgekitError as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps(result.report, indent=2))
    elif not quiet:
        click.echo(summary(result.report, str(result.out)))


_config_options(build, BuildConfig())


@cli.command(name="convert")
@click.argument("model", type=click.Path(path_type=str))
@click.option("--calibration", "-c", required=True, type=click.Path(path_type=str),
              help="Samples of the model's inputs: a folder of images (one image input; see --mean/--std), a .npy "
                   "(one input) or a .npz (one array per input, by input name or arr_0, arr_1, ...), already "
                   "scaled as the model expects. Some are held back to verify the .tflite.")
@click.option("--recipe", type=click.Path(path_type=str), default=None,
              help="A recipe.toml from an earlier convert; flags given here override it.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.pass_context
def convert_command(ctx: click.Context, model: str, calibration: str, recipe: str | None, quiet: bool,
                    as_json: bool, **options: Any) -> None:
    """Convert MODEL (.keras or .h5 from Keras 2 or 3, or a SavedModel folder) for a target.

    The .tflite is calibrated on part of the samples, then run on the rest and compared
    with MODEL output by output (errors, SNR, cosine, top-1 agreement for class scores);
    it fails with exit status 1, writing nothing, past --min-snr or --min-agreement.
    Shapes are made static where the target needs it (batch 1 for the Edge TPU).
    """
    from edgekit.conversion.pipeline import convert
    from edgekit.recipe import load_recipe

    try:
        base = load_recipe(recipe, ConvertConfig()) if recipe is not None else ConvertConfig()
        result = convert(model, config=_with_flags(ctx, base, options, quiet), calibration=calibration)
    except EdgekitError as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps(result.report, indent=2))
    elif not quiet:
        lines = [f"target    {result.report['target']['id']} ({result.report['tflite']['quantization']})"]
        for out in result.report["verification"]["outputs"]:
            top1 = "" if out["top1_agreement"] is None else f"  top-1 agreement {out['top1_agreement']:.4f}"
            lines.append(f"output    {out['name']}: SNR {out['snr_db']:.1f} dB  cosine {out['cosine']:.4f}  "
                         f"max abs error {out['max_abs_error']:.4g}{top1}")
        lite = result.report["tflite"]
        lines += [f"size      model.tflite {lite['bytes']:,} bytes ({lite['gzip_bytes']:,} gzipped)",
                  f"check     {result.report['check']['summary']}",
                  f"output    {result.out}/  ({result.report['wall_seconds']:.1f}s)",
                  f"report    {result.out}/report.html (open it in a browser)"]
        click.echo("\n".join(lines))


_config_options(convert_command, ConvertConfig())


@cli.command(name="tune")
@click.argument("data", type=click.Path(path_type=str))
@_stage_options
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
@click.option("--json", "as_json", is_flag=True, help="Print the search's summary (tune.json) on stdout.")
@click.pass_context
def tune_command(ctx: click.Context, data: str, quiet: bool, as_json: bool, prune: str | None, prune_schedule: str,
                 cluster: int | None, cluster_init: str, qat: bool, distill_from: str | None,
                 distill_temperature: float, distill_alpha: float, remote_python: str, identity: str | None,
                 ssh_options: tuple[str, ...], connect_timeout: int, **options: Any) -> None:
    """Search for the most accurate model on DATA that meets a latency (and size) limit on a target.

    \b
      edgekit tune DATA --target rpi4 --max-latency-ms 8 --max-size-kb 500 --time-budget 30m --out tune

    Backbones, widths, input sizes, learning rate, dropout, augmentation and stages are
    searched by Optuna. Each candidate is converted untrained and priced first (the
    target's cost model, or --remote): what cannot meet the limits is rejected without
    training. Trials are builds; successive halving stops the weaker ones early, and with
    --time-budget a candidate too slow to screen in a quarter of the time left is not
    trained. Any build option given here is fixed for every trial. OUT gets trials.csv,
    report.html, tune.json and best/, the chosen model's full build. The search lives in
    OUT/study.journal (or --storage): the same command again continues it, and several
    workers share it.
    """
    from edgekit.tuning import TuneConfig, tune

    try:
        extra = _stage_extra(prune, prune_schedule, cluster, cluster_init, qat, distill_from, distill_temperature,
                             distill_alpha)
        from edgekit.profiler.remote import SshSettings

        ssh = SshSettings(connect_timeout=connect_timeout, identity=identity, options=ssh_options,
                          python=remote_python)
        result = tune(data, config=_with_flags(ctx, TuneConfig(), options, quiet, extra), ssh=ssh)
    except EdgekitError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise click.ClickException("interrupted: run the same command again to continue the search") from None
    if as_json:
        click.echo(json.dumps(result.summary, indent=2))
    elif not quiet:
        click.echo(tune_summary(result.summary, str(result.out)))


def tune_summary(summary: dict, out: str) -> str:
    """A few lines a person reads after a search."""
    counted, best = summary["counts"], summary["best"]
    lines = [f"target    {summary['target']['id']}: latency {summary['target']['latency']}",
             f"trials    {summary['trials']}: " + ", ".join(f"{n} {state}" for state, n in counted.items())]
    if summary["rejected_before_training"]:
        lines.append("rejected  " + ", ".join(f"{n} on {why}" for why, n in summary["rejected_before_training"].items())
                     + " (before training)")
    if best is None:
        lines.append("best      none of the trials that trained to the end meets the limits")
    else:
        lines.append(f"best      trial {best['number']}: {best['model']}, validation accuracy "
                     f"{best['val_accuracy']:.4f}, {best['latency_ms']:.3f} ms ({best['latency_kind']}), "
                     f"{best['size_bytes']:,} bytes")
        refit = ", refit on every image" if best.get("refit") else (
            f", not refit: {best['refit_skipped']}" if best.get("refit_skipped") else "")
        lines.append(f"output    {out}/best/{refit}  (replay: edgekit build DATA --recipe {out}/best/recipe.toml)")
    lines.append(f"report    {out}/report.html, {out}/trials.csv  ({summary['budget']['spent_seconds'] / 60:.1f} min)")
    return "\n".join(lines)


_config_options(tune_command, BuildConfig(), skip=frozenset(TuneConfig.owners()))
_config_options(tune_command, TuneConfig())


def _stages_from_flags(prune: str | None, schedule: str, cluster: int | None, init: str, qat: bool) -> list[dict]:
    """Flags give stages in the one order that preserves each: prune, cluster, qat."""
    stages: list[dict] = []
    if prune is not None:
        if ":" in prune:
            stages.append({"kind": "prune", "m_by_n": prune, "schedule": schedule})
        else:
            try:
                stages.append({"kind": "prune", "sparsity": float(prune), "schedule": schedule})
            except ValueError:
                raise ConfigError(f"--prune {prune}: give a sparsity like 0.5 or m:n like 2:4") from None
    if cluster is not None:
        stages.append({"kind": "cluster", "clusters": cluster, "init": init})
    if qat:
        stages.append({"kind": "qat"})
    return stages


def summary(report: dict, out: str) -> str:
    """A few lines a person reads after a build."""
    if report.get("task") == "detect":
        return _detect_summary(report, out)
    lite, keras, data = report["tflite"], report["keras"], report["data"]
    lines = [
        f"target    {report['target']['id']} ({lite['quantization']}, {lite['input']['dtype']} in, "
        f"{lite['output']['dtype']} out)",
        f"data      {len(data['classes'])} classes, {data['train_images']} train / {data['validation_images']} "
        f"validation images, {len(data['skipped'])} skipped",
        *_accuracy_lines(report),
        *[f"verified  {o['name']}: SNR {o['snr_db']:.1f} dB{_least(report['verification']['min_snr_db'])}, "
          f"cosine {o['cosine']:.4f}, max abs error {o['max_abs_error']:.3g}"
          for o in report["verification"]["outputs"]],
        f"size      model.tflite {lite['bytes']:,} bytes ({lite['gzip_bytes']:,} gzipped), "
        f"model.keras {keras['bytes']:,} bytes",
        *[f"stage     {st['name']}: " + ("refit" if st["val_accuracy"] is None else
                                           f"validation accuracy {st['val_accuracy']:.4f}")
          + (f" ({st['details']['scheme']})" if "scheme" in st["details"] else "") for st in report["stages"]],
        f"check     {report['check']['summary']}"
        + ("" if report["check"]["fully_supported"] else " (CPU fallback allowed)"),
        f"output    {out}/  ({report['wall_seconds']:.1f}s)",
        f"report    {out}/report.html (open it in a browser)",
    ]
    return "\n".join(lines)


def _detect_summary(report: dict, out: str) -> str:
    lite, keras, data = report["tflite"], report["keras"], report["data"]
    quant = {o["name"]: o for o in report["verification"]["outputs"]}
    return "\n".join([
        f"target    {report['target']['id']} ({lite['quantization']}, {lite['inputs'][0]['dtype']} in, "
        f"float32 boxes, classes, scores and count out)",
        f"data      {data['format']}, {len(data['classes'])} classes, {data['train_images']} train / "
        f"{data['validation_images']} validation images, {len(data['skipped'])} bad boxes skipped",
        f"mAP@.5    keras {keras['map50']:.4f}{_staged(keras, 'staged_map50')}  tflite {lite['map50']:.4f}  "
        f"(a trivial detector {report['validation']['trivial_map50']:.4f})",
        f"mAP       keras {keras['map']:.4f}{_staged(keras, 'staged_map')}  tflite {lite['map']:.4f}  "
        "(COCO @[.5:.95])",
        *[f"verified  {name}: SNR {o['snr_db']:.1f} dB, cosine {o['cosine']:.4f}" for name, o in quant.items()],
        f"size      model.tflite {lite['bytes']:,} bytes ({lite['gzip_bytes']:,} gzipped)",
        f"check     {report['check']['summary']}"
        + ("" if report["check"]["fully_supported"] else " (CPU fallback allowed)"),
        f"output    {out}/  ({report['wall_seconds']:.1f}s)",
        f"report    {out}/report.html (open it in a browser)",
    ])


def _staged(keras: dict, key: str) -> str:
    return f"  after stages {keras[key]:.4f}" if key in keras else ""


def _least(min_snr: float | None) -> str:
    return "" if min_snr is None else f" (least {min_snr:g})"


def _accuracy_lines(report: dict) -> list[str]:
    """Each step against the model it was given: stages against training, tflite against its source."""
    keras, lite = report["keras"], report["tflite"]
    refit = report.get("refit")
    if refit:
        held = refit["held_out"]
        staged = f"  after stages {held['staged_accuracy']:.4f}" if report["stages"] else ""
        return [
            f"held out  keras {held['keras_accuracy']:.4f}{staged}  tflite {held['tflite_accuracy']:.4f} on "
            f"{held['images']} validation images, before the refit",
            f"refit     on all {refit['images']} images; on the validation images it trained on: keras "
            f"{keras['accuracy']:.4f}  tflite {lite['accuracy']:.4f}  agreement {lite['agreement']:.4f}",
        ]
    changes = {c["step"]: c for c in report.get("changes", [])}
    stages = changes.get("stages")
    if stages is None:
        return [f"accuracy  keras {keras['accuracy']:.4f}  tflite {lite['accuracy']:.4f}  "
                f"agreement {lite['agreement']:.4f}"]
    conversion = changes["conversion"]
    return [
        f"accuracy  keras {keras['accuracy']:.4f}  after stages {stages['after']:.4f}  tflite {lite['accuracy']:.4f}  "
        f"agreement {lite['agreement']:.4f} (with the staged model)",
        f"drops     stages {stages['drop']:.4f} (limit {stages['limit']:.4f})  "
        f"conversion {conversion['drop']:.4f} (limit {conversion['limit']:.4f})",
    ]


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the profiles as JSON.")
def targets(as_json: bool) -> None:
    """List the shipped target profiles."""
    import dataclasses

    from edgekit.targets import load_target, shipped_targets

    try:
        profiles = [load_target(name) for name in shipped_targets()]
    except EdgekitError as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(p) for p in profiles], indent=2, default=str))
        return
    width = max(len(p.id) for p in profiles)
    for p in profiles:
        click.echo(f"{p.id:<{width}}  {p.description}")


class _UnreadableModel(click.ClickException):
    """Exit status 2: the file is not something edgekit can read (1 means 'falls back')."""

    exit_code = 2


def _input_shape_option(command: Any) -> Any:
    """--input-shape, defined once for every command that sizes a model (check, estimate, profile)."""
    from edgekit.analyze.shapes import HELP

    return click.option("--input-shape", default=None, metavar="N,N,...", help=HELP)(command)


@cli.command()
@click.argument("model", type=click.Path(path_type=str))
@click.option("--target", "-t", default="cpu", show_default=True,
              help="Target profile id (see `edgekit targets`) or a path to a .toml profile.")
@_input_shape_option
@click.option("--json", "as_json", is_flag=True, help="Print the check as JSON on stdout.")
@click.option("--no-compile", is_flag=True, help="Do not run edgetpu_compiler even when it is installed.")
@click.option("--compiled-dir", type=click.Path(path_type=str), default=None,
              help="Keep the Edge TPU compiler's <name>_edgetpu.tflite in this folder.")
def check(model: str, target: str, input_shape: str | None, as_json: bool, no_compile: bool,
          compiled_dir: str | None) -> None:
    """Say op by op where MODEL runs on a target, and why an op falls back to the CPU.

    Works on any .tflite. Exit status: 0 when the model runs fully on the target, 1 when
    part of it falls back to the CPU (or cannot run at all), 2 when the file or the
    target cannot be read.
    """
    from edgekit.analyze import check as check_model
    from edgekit.analyze.shapes import parse_shape

    try:
        shape = parse_shape(input_shape)
        report = check_model(model, target, compile=not no_compile, compiled_dir=compiled_dir, input_shape=shape)
        estimated, unestimated = _estimate_if_known(model, target, shape)
    except EdgekitError as exc:
        raise _UnreadableModel(str(exc)) from None
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "estimate": estimated.to_dict() if estimated else None,
                               "estimate_note": unestimated}, indent=2, default=str))
    else:
        click.echo(report.table())
        if estimated is not None:
            click.echo(f"estimate: {estimated.summary(f'on {estimated.target}')}; from its cost model, not "
                       "measured; per op: edgekit estimate")
        elif unestimated:
            click.echo(f"estimate: not made: {unestimated}")
    sys.exit(0 if report.fully_supported else 1)


def _estimate_if_known(model: str, target: str, input_shape: tuple[int, ...] | None) -> tuple[Any, str | None]:
    """The latency estimate when the target carries a cost model (else None), and why
    there is none when the model's size is dynamic and not given."""
    if load_target(target).cost_model is None:
        return None, None
    from edgekit.analyze import read_model
    from edgekit.analyze.shapes import dynamic_inputs, unsized_message
    from edgekit.latency import estimate

    dynamic = dynamic_inputs(read_model(model))
    if dynamic and input_shape is None:
        return None, unsized_message(dynamic, "a latency estimate")
    return estimate(model, target, input_shape=input_shape), None


def _ssh_options(command: Any, shorts: bool = True) -> Any:
    """The options of a command that can run on another machine over SSH (``shorts``: with
    -i and -o, which tune leaves to --out)."""
    identity, ssh_option = (["--identity", "-i"], ["--ssh-option", "-o"]) if shorts else (["--identity"],
                                                                                         ["--ssh-option"])
    for option in reversed([
        click.option("--remote-python", default="python3", show_default=True,
                     help="The Python on the remote host that has edgekit."),
        click.option(*identity, default=None, type=click.Path(path_type=str), help="SSH private key."),
        click.option(*ssh_option, "ssh_options", multiple=True,
                     help="Extra ssh -o setting, e.g. StrictHostKeyChecking=accept-new (repeatable)."),
        click.option("--connect-timeout", type=int, default=10, show_default=True,
                     help="SSH connect timeout, seconds."),
    ]):
        command = option(command)
    return command


@cli.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--target", "-t", default=None,
              help="Take threads, warm-up, runs, delegate, device and accelerator from this target profile's "
                   "[profile] section (an id or a .toml path); flags given here override it.")
@click.option("--threads", type=int, default=None, help="CPU threads of the runtime [default: 1, or the target's].")
@click.option("--runs", type=int, default=None, help="Timed runs after the warm-up [default: 100, or the target's].")
@click.option("--warmup", type=int, default=None, help="Untimed runs first [default: 10, or the target's].")
@click.option("--duration", type=float, default=None, help="Run for this many seconds instead of --runs.")
@click.option("--delegate", default=None, help="edgetpu (libedgetpu.so.1) or a path to a delegate library.")
@click.option("--device", default=None, help="Edge TPU device: usb, usb:N or pci:N.")
@click.option("--accelerator", type=click.Choice(["cpu", "gpu", "npu"]), default=None,
              help="Run through LiteRT's CompiledModel API on this accelerator (reports CPU fallback).")
@click.option("--gpu-f32", "gpu_f32", is_flag=True,
              help="With --accelerator gpu: compute in float32, not the GPU's default float16 (some models, "
                   "such as an audio front end feeding a LOG, come out right only in float32).")
@_input_shape_option
@click.option("--inputs", "inputs_dir", type=click.Path(path_type=str), default=None,
              help="Feed real samples instead of random inputs: the images of a folder, or an .npy (one "
                   "input) or .npz (arrays named as the inputs, or arr_0, arr_1...) of samples scaled as the "
                   "model's float inputs expect (int8 inputs are quantised with their own scale).")
@click.option("--runtime", type=click.Choice(["ai_edge_litert", "tflite_runtime", "tensorflow"]), default=None,
              help="Force a runtime [default: the first of these that imports].")
@click.option("--timeout", type=float, default=300.0, show_default=True,
              help="Seconds before a hung load or run is stopped.")
@click.option("--remote", default=None, help="Measure on user@host[:port] over SSH (edgekit installed there).")
@_ssh_options
@click.option("--per-op", "per_op", is_flag=True,
              help="Also time each op alone: cut from the model, fed the values it sees there, run warm with the "
                   "same runtime, threads and delegate; with the Keras layer names and the sum against the whole.")
@click.option("--json", "as_json", is_flag=True, help="Print every figure as JSON (a list for several models).")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also write an HTML page here: each model's latency histogram and percentiles, and the "
                   "comparison of several models (needs matplotlib: pip install 'edgekit[report]').")
def profile(models: tuple[str, ...], as_json: bool, html_out: str | None, input_shape: str | None,
            remote: str | None, remote_python: str, identity: str | None, ssh_options: tuple[str, ...],
            connect_timeout: int, **options) -> None:
    """Measure latency, size and memory of MODELS on this machine (or --remote).

    Each model runs in a child process after a warm-up; latency is the distribution of
    the timed runs (p50/p90/p99). Several models are compared with the first. Needs
    only a TFLite runtime (ai-edge-litert); never imports TensorFlow. Exit status 2
    when a model cannot be read, loaded or run.
    """
    from edgekit.analyze.shapes import parse_shape
    from edgekit.errors import ProfileError
    from edgekit.profiler import SshSettings, render, render_comparison
    from edgekit.profiler import profile_all as run_profile

    if html_out is not None:
        _check_html_out(html_out)
    try:
        if remote is None:
            from edgekit.analyze import read_model

            for model in models:
                read_model(model)  # a clear one-line error before any process starts
        results = run_profile(
            list(models), input_shape=parse_shape(input_shape), remote=remote,
            ssh=SshSettings(connect_timeout=connect_timeout, identity=identity, options=ssh_options,
                            python=remote_python),
            **options,
        )
    except (ProfileError, EdgekitError) as exc:
        raise _UnreadableModel(str(exc)) from None
    if html_out is not None:
        from edgekit.report import write_profile_html

        write_profile_html([m.to_dict() for m in results], html_out)
    if as_json:
        data = [m.to_dict() for m in results]
        click.echo(json.dumps(data[0] if len(data) == 1 else data, indent=2))
        return
    for i, m in enumerate(results):
        if i:
            click.echo("")
        click.echo(render(m))
    if len(results) > 1:
        click.echo("")
        click.echo(render_comparison(results))
    if html_out is not None:
        click.echo(f"\nwrote {html_out}")


def _check_folder_of(path: str, flag: str) -> None:
    """The folder a file will be written into exists: checked before any work."""
    from pathlib import Path

    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise click.BadParameter(f"folder {folder} does not exist", param_hint=flag)


def _check_html_out(path: str) -> None:
    """Before any measuring: the page's folder exists and matplotlib is there to draw it."""
    from edgekit.report import require_plots

    _check_folder_of(path, "--html")
    try:
        require_plots()
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--html") from None


@cli.command(name="report")
@click.argument("folder", type=click.Path(path_type=str))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write the page here [default: FOLDER/report.html].")
@click.option("--json", "as_json", is_flag=True, help="Print the written page's path and size as JSON.")
def report_command(folder: str, out: str | None, as_json: bool) -> None:
    """Render FOLDER/report.html again from the report.json of an edgekit build or convert.

    The page is self-contained (plots inline, no network): training curves, the
    confusion matrix and misclassified images, per-layer weights, where each op runs,
    size and accuracy from float to .tflite, and the recipe, versions and timings.
    """

    from edgekit.report import write_html

    if out is not None:
        _check_folder_of(out, "--out")
    try:
        written = write_html(folder, out)
    except EdgekitError as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps({"report": str(written), "bytes": written.stat().st_size}))
    else:
        click.echo(f"wrote {written}")


@cli.command(name="calibrate")
@click.option("--out", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write the device's target profile here (DEVICE.toml): it inherits --inherits and holds the "
                   "fitted [cost_model]; give it to --target of estimate, check and build.")
@click.option("--id", "profile_id", default=None, help="The profile's id [default: the file's name].")
@click.option("--inherits", default="cpu", show_default=True,
              help="The profile DEVICE.toml inherits conversion, limits and checks from (an id or a .toml path).")
@click.option("--threads", type=int, default=1, show_default=True,
              help="CPU threads of the runtime while timing: calibrate for the threads the app will use.")
@click.option("--quick", is_flag=True, help="Two sizes per op class instead of all: a check, not a calibration.")
@click.option("--remote", default=None, help="Calibrate user@host[:port] over SSH (edgekit installed there).")
@_ssh_options
@click.option("--print-measurements", is_flag=True,
              help="Print the raw timings as JSON instead of writing a profile (what --remote runs there).")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements, the fit and its errors as JSON.")
def calibrate_command(out: str | None, profile_id: str | None, inherits: str, threads: int, quick: bool,
                      remote: str | None, remote_python: str, identity: str | None, ssh_options: tuple[str, ...],
                      connect_timeout: int, print_measurements: bool, as_json: bool) -> None:
    """Time single-op micro-benchmarks on this machine (or --remote) and fit its cost model.

    1x1, k x k and depthwise convolutions, fully connected, pooling, elementwise and
    data-movement ops at several sizes, int8 and float32, each timed on XNNPACK and on
    the built-in kernels for at most 50 ms. Needs only LiteRT.
    """

    from edgekit.latency import calibrate, write_profile
    from edgekit.progress import resolve

    if out is None and not (print_measurements or as_json):
        raise click.UsageError("give --out DEVICE.toml (or --json, or --print-measurements)")
    if threads < 1:
        raise click.BadParameter(f"must be at least 1, got {threads}", param_hint="--threads")
    if out is not None:
        _check_folder_of(out, "--out")
        if not out.endswith(".toml"):
            raise click.BadParameter(f"{out}: a target profile file ends in .toml", param_hint="--out")
    try:
        load_target(inherits)
    except EdgekitError as exc:
        raise click.BadParameter(str(exc), param_hint="--inherits") from None
    say = resolve(not (print_measurements or as_json))
    if print_measurements:
        from edgekit.latency.suite import measure_suite, suite
        from edgekit.profiler.system import conditions

        measured = measure_suite(suite(limit=2 if quick else None), threads)
        click.echo(json.dumps({"measured": measured, "system": conditions()}))
        return
    from edgekit.profiler import SshSettings

    try:
        result = calibrate(threads=threads, quick=quick, remote=remote,
                           ssh=SshSettings(connect_timeout=connect_timeout, identity=identity, options=ssh_options,
                                           python=remote_python),
                           progress=say)
        written = write_profile(result, out, profile_id=profile_id, inherits=inherits) if out else None
    except EdgekitError as exc:
        raise _fail(exc) from None
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "profile": str(written) if written else None}, indent=2,
                              default=str))
        return
    model = result.fit.model
    click.echo(f"timed     {len(result.measured['rows'])} micro-benchmarks on {result.host}, "
               f"{threads} thread(s), one empty invoke {model.invoke_ms * 1000:.1f} us")
    click.echo(f"fit       leave-one-out error median {result.median_error:.1%}, worst {result.worst_error:.1%}; "
               f"estimates carry a band of +/-{model.band:.0%}")
    click.echo(f"wrote     {written}  (edgekit estimate MODEL --target {written})")


@cli.command(name="estimate")
@click.argument("model", type=click.Path(path_type=str))
@click.option("--target", "-t", required=True,
              help="A target profile with a [cost_model]: a shipped id, or a file from edgekit calibrate.")
@_input_shape_option
@click.option("--json", "as_json", is_flag=True,
              help="Print the estimate as JSON: estimated_ms, low_ms, high_ms, input_shape and each op.")
def estimate_command(model: str, target: str, input_shape: str | None, as_json: bool) -> None:
    """Estimated latency of MODEL on a device that is not at hand, per op and in total, with a band.

    From the target's cost model (edgekit calibrate, or one a shipped profile carries):
    each op's class, type, MACs and bytes, on XNNPACK or the built-in kernels as this
    runtime delegates them. For the Edge TPU: the ops edgekit check places on it, the
    parameters that miss its on-chip memory, and the ops that fall back to the CPU.
    Exit status 2 when MODEL cannot be read.
    """
    from edgekit.latency import estimate

    try:
        load_target(target)
    except EdgekitError as exc:
        raise click.BadParameter(str(exc), param_hint="--target") from None
    try:
        from edgekit.analyze import read_model

        read_model(model)
    except EdgekitError as exc:
        raise _UnreadableModel(str(exc)) from None
    try:
        result = estimate(model, target, input_shape=input_shape)
    except EdgekitError as exc:
        raise _fail(exc) from None
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.render())


@cli.command(name="metadata")
@click.argument("model", type=click.Path(path_type=str))
@click.option("--labels", type=click.Path(path_type=str), default=None,
              help="Class names, one per line, in score order: packed into the model as labels.txt.")
@click.option("--name", default=None, help="Model name [default: the metadata's, or the file's name].")
@click.option("--description", default=None, help="Model description.")
@click.option("--version", "model_version", default=None, help="Model version [default: the metadata's, or 1].")
@click.option("--author", default=None, help="Author.")
@click.option("--license", "model_license", default=None, help="Licence.")
@click.option("--out", "-o", type=click.Path(path_type=str), default=None,
              help="Write the model with its new metadata here instead of replacing MODEL.")
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
def metadata_command(model: str, labels: str | None, name: str | None, description: str | None,
                     model_version: str | None, author: str | None, model_license: str | None, out: str | None,
                     as_json: bool) -> None:
    """Print MODEL's TFLite metadata, or, given --labels or --name, add or replace it.

    The metadata is what MediaPipe Tasks, Android Studio's model binding and the LiteRT
    support library read: names, the image input and its normalisation, the class names
    (packed as labels.txt) and score statistics. Adding it changes no operator, tensor
    or weight. Exit status 2 when MODEL cannot be read.
    """
    from pathlib import Path

    from edgekit.files import atomic_write, read_labels
    from edgekit.metadata import attach, classifier_info, read_metadata

    writes = any(v is not None for v in (labels, name, description, model_version, author, model_license))
    try:
        from edgekit.analyze import read_model

        read_model(model)
        current = read_metadata(model)
        if writes:
            data = Path(model).read_bytes()
            old_labels = next((t.labels for t in current.outputs if t.labels), ()) if current else ()
            names = read_labels(labels) if labels is not None else old_labels
            if not names:
                raise ConfigError(f"{model} has no class names in its metadata: give --labels")

            def keep(given: str | None, attribute: str, default: str) -> str:
                if given is not None:
                    return given
                return getattr(current, attribute) if current is not None else default

            info = classifier_info(data, name=keep(name, "name", Path(model).stem), labels=names,
                                   description=keep(description, "description", ""),
                                   version=keep(model_version, "version", "1"), author=keep(author, "author", ""),
                                   license=keep(model_license, "license", ""))
            target = Path(out) if out is not None else Path(model)
            atomic_write(target, attach(data, info))  # in one step: MODEL is never half-written
            current = read_metadata(target)
    except EdgekitError as exc:
        raise _UnreadableModel(str(exc)) from None
    if current is None:
        if as_json:
            click.echo("null")
        else:
            click.echo(f"{model}: no TFLite metadata (add it with --labels FILE --name NAME)")
        return
    if as_json:
        click.echo(json.dumps(current.to_dict(), indent=2))
        return
    lines = [f"name         {current.name}", f"description  {current.description}",
             f"version      {current.version}", f"author       {current.author}", f"license      {current.license}",
             f"parser       {current.min_parser_version} or later"]
    for kind, tensors in (("input", current.inputs), ("output", current.outputs)):
        for t in tensors:
            parts = [t.name]
            if t.color_space:
                parts.append(f"{t.color_space} image" + (f" {t.size[0]}x{t.size[1]}" if t.size else ""))
            if t.mean is not None:
                parts.append(f"normalised (x - {list(t.mean)}) / {list(t.std)}")
            if t.score_min is not None:
                parts.append(f"scores {t.score_min:g}..{t.score_max:g}")
            if t.labels:
                parts.append(f"{len(t.labels)} labels: {', '.join(t.labels[:8])}" + (", ..." if len(t.labels) > 8
                                                                                      else ""))
            lines.append(f"{kind:<12} " + "; ".join(parts))
    lines.append(f"files        {', '.join(sorted(current.files)) or '-'}")
    click.echo("\n".join(lines))


@cli.command(name="eval")
@click.argument("model", type=click.Path(path_type=str))
@click.argument("data", type=click.Path(path_type=str))
@click.option("--labels", type=click.Path(path_type=str), default=None,
              help="Labels file, one class per line [default: labels.txt beside MODEL].")
@click.option("--threads", type=int, default=1, show_default=True, help="CPU threads of the runtime.")
@click.option("--strict", is_flag=True, help="Stop on an unreadable image instead of skipping it.")
@click.option("--json", "as_json", is_flag=True, help="Print the evaluation as JSON.")
def eval_command(model: str, data: str, labels: str | None, threads: int, strict: bool, as_json: bool) -> None:
    """Accuracy of MODEL on DATA (one sub-folder of images per class), with the runtime only.

    Top-1 and top-5, per-class accuracy and the confusion matrix; quantised inputs and
    outputs use the model's own scale and zero point. A detector (ending in
    TFLite_Detection_PostProcess) on a COCO, Pascal VOC or YOLO folder: COCO mAP@.5 and
    mAP@[.5:.95], per class too (needs pycocotools).
    """
    from edgekit.evaluation import evaluate

    try:
        result = evaluate(model, data, labels=labels, threads=threads, strict=strict)
    except EdgekitError as exc:
        raise _UnreadableModel(str(exc)) from None
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.render())


_ssh_options(tune_command, shorts=False)


def main() -> None:
    cli(prog_name="edgekit")


if __name__ == "__main__":
    sys.exit(main())
