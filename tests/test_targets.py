import pytest

from edgekit.errors import ConfigError
from edgekit.targets import Quantization, TargetKind, TensorType, load_target, shipped_targets


@pytest.mark.parametrize("name", shipped_targets())
def test_every_shipped_profile_loads(name):
    profile = load_target(name)
    assert profile.id == name
    assert profile.description
    assert profile.source.endswith(f"{name}.toml")


def test_shipped_profiles_include_the_three_backends():
    kinds = {load_target(name).kind for name in shipped_targets()}
    assert kinds >= {TargetKind.CPU, TargetKind.GPU, TargetKind.EDGETPU}


def test_edgetpu_profile_is_full_integer_with_uint8_io_and_batch_one():
    tpu = load_target("edgetpu")
    assert tpu.convert.quantization == Quantization.INT8
    assert tpu.convert.input_type == TensorType.UINT8 and tpu.convert.output_type == TensorType.UINT8
    assert not tpu.convert.allow_float_ops
    assert tpu.limits.batch_size == 1


def test_user_profile_inherits_and_overrides(tmp_path):
    board = tmp_path / "board.toml"
    board.write_text('id = "my-board"\ninherits = "cpu"\ndescription = "x"\n[profile]\nthreads = 2\n')
    profile = load_target(board)
    assert profile.kind == TargetKind.CPU
    assert profile.profile.threads == 2
    assert profile.convert == load_target("cpu").convert


def test_inherits_a_file_relative_to_the_child(tmp_path):
    (tmp_path / "base.toml").write_text('id = "base"\nkind = "gpu"\n')
    (tmp_path / "child.toml").write_text('id = "child"\ninherits = "base.toml"\n')
    assert load_target(tmp_path / "child.toml").kind == TargetKind.GPU


@pytest.mark.parametrize(
    "text, message",
    [
        ('id = "b"\nkind = "cpu"\nthreds = 4\n', "unknown key 'threds'"),
        ('id = "b"\nkind = "cpu"\n[profile]\nthreds = 4\n', "unknown key 'profile.threds'"),
        ('id = "b"\nkind = "cpu"\n[profile]\nthreads = "four"\n', "'profile.threads' must be an integer"),
        ('id = "b"\nkind = "cpu"\n[profile]\nthreads = true\n', "'profile.threads' must be an integer"),
        ('id = "b"\nkind = "fpga"\n', "'kind' is 'fpga'"),
        ('id = "b"\ninherits = "no-such-target"\n', "unknown target 'no-such-target'"),
        ('id = "b"\ninherits = "missing.toml"\n', "no such file"),
        ('id = "b"\n', "missing key 'kind'"),
        ('id = "b"\nkind = \n', "not valid TOML"),
        ('id = "b"\nkind = "cpu"\n[limits]\nbatch_size = -1\n', "'limits.batch_size' must not be negative"),
        ('id = "b"\nkind = "cpu"\nconvert = 3\n', "'convert' must be a table"),
    ],
)
def test_bad_profile_is_rejected_naming_file_and_key(tmp_path, text, message):
    path = tmp_path / "board.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_target(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_inheritance_cycle_is_rejected(tmp_path):
    (tmp_path / "a.toml").write_text('id = "a"\nkind = "cpu"\ninherits = "b.toml"\n')
    (tmp_path / "b.toml").write_text('id = "b"\nkind = "cpu"\ninherits = "a.toml"\n')
    with pytest.raises(ConfigError, match="cycle"):
        load_target(tmp_path / "a.toml")


def test_unknown_shipped_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match="cpu, cpu-int16x8, edgetpu, gpu"):
        load_target("tpu")


def test_a_child_without_an_id_is_named_after_its_file_not_its_parent(tmp_path):
    (tmp_path / "my-pi.toml").write_text('inherits = "rpi4"\n[profile]\nthreads = 2\n')
    child = load_target(tmp_path / "my-pi.toml")
    assert child.id == "my-pi" and child.description == ""
    assert child.kind == TargetKind.CPU and child.profile.threads == 2


def test_only_profiles_inside_edgekit_count_as_shipped(tmp_path, monkeypatch):
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "cpu.toml").write_text('id = "cpu"\nkind = "cpu"\n')
    monkeypatch.chdir(tmp_path)
    assert not load_target("targets/cpu.toml").shipped
    assert load_target("cpu").shipped
