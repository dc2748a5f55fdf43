"""Remote profiling through a real OpenSSH server on 127.0.0.1, started by the test."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from edgekit.profiler import ProfileError, SshSettings, profile, profile_all
from tests.conftest import free_ports


def test_remote_profile_returns_the_fields_of_a_local_one(sshd, small_float_model):
    remote, settings = sshd
    measured = profile(small_float_model, runs=20, remote=remote, ssh=settings)
    local = profile(small_float_model, runs=20)
    assert set(measured.to_dict()) == set(local.to_dict())
    assert measured.remote["host"] == remote and measured.remote["edgekit_version"]
    assert measured.model == str(small_float_model)
    assert measured.sha256 == local.sha256 and measured.file_bytes == local.file_bytes
    assert measured.runs == 20 and 0 < measured.latency_ms.p50 <= measured.latency_ms.max


def test_remote_copy_is_removed(sshd, small_float_model):
    remote, settings = sshd
    before = set(Path("/tmp").glob("edgekit-profile.*"))
    profile_all([small_float_model, small_float_model], runs=3, remote=remote, ssh=settings)
    assert set(Path("/tmp").glob("edgekit-profile.*")) == before


def test_remote_without_edgekit_says_how_to_install(sshd, small_float_model):
    remote, settings = sshd
    bare = SshSettings(connect_timeout=5, identity=settings.identity, options=settings.options,
                       python="/usr/bin/env python-without-edgekit")
    with pytest.raises(ProfileError, match="edgekit is not installed for .* there"):
        profile(small_float_model, runs=3, remote=remote, ssh=bare)


def test_remote_errors_come_back_as_errors(sshd, tmp_path):
    from edgekit._tf import tensorflow

    remote, settings = sshd
    tf = tensorflow()
    mean = tf.function(lambda x: tf.reduce_mean(x, axis=1), input_signature=[tf.TensorSpec([None, None], tf.float32)])
    unsized = tmp_path / "unsized.tflite"
    unsized.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([mean.get_concrete_function()]).convert())
    # A dynamic length and no --input-shape: the remote host refuses, and says why.
    with pytest.raises(ProfileError, match="has a dynamic size"):
        profile(unsized, runs=3, remote=remote, ssh=settings)


def test_a_file_that_is_not_a_model_is_refused_before_any_connection(tmp_path):
    import edgekit

    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    with pytest.raises(edgekit.ModelFormatError):
        profile(bad, runs=3, remote=f"nobody@127.0.0.1:{free_ports()[0]}")


def test_refused_connection_fails_at_once(small_float_model):
    start = time.perf_counter()
    with pytest.raises(ProfileError, match="cannot reach"):
        profile(small_float_model, remote=f"nobody@127.0.0.1:{free_ports()[0]}", ssh=SshSettings(connect_timeout=3))
    assert time.perf_counter() - start < 15


def test_silent_host_fails_within_the_connect_timeout(small_float_model):
    # A port that accepts TCP and never speaks SSH: only the connect timeout ends the wait.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    held = []
    threading.Thread(target=lambda: [held.append(listener.accept()) for _ in range(4)], daemon=True).start()
    start = time.perf_counter()
    with pytest.raises(ProfileError, match="cannot reach .*timed out"):
        profile(small_float_model, remote=f"nobody@127.0.0.1:{listener.getsockname()[1]}",
                ssh=SshSettings(connect_timeout=2))
    assert time.perf_counter() - start < 15
    listener.close()


@pytest.mark.parametrize("bad", ["", "user@", "@host", "-oProxyCommand=x", "host:port"])
def test_malformed_remote_is_rejected(bad):
    with pytest.raises(ProfileError, match="expected \\[user@\\]host\\[:port\\]"):
        profile(__file__, remote=bad or " ")


def test_calibrate_over_ssh_fits_the_timings_taken_there(sshd, tmp_path):
    from edgekit.latency.api import calibrate, write_profile
    from edgekit.targets import load_target

    remote, settings = sshd
    result = calibrate(quick=True, remote=remote, ssh=settings)
    assert result.host == remote
    assert result.measured["rows"] and result.system["cores"] >= 1
    assert f"on {result.host}" in result.fit.model.source
    profile = load_target(str(write_profile(result, tmp_path / "far.toml")))
    assert profile.cost_model.float32 is not None


def test_the_remote_command_carries_gpu_f32():
    from edgekit.profiler.options import ProfileOptions
    from edgekit.profiler.remote import _option_args

    args = _option_args(ProfileOptions(accelerator="gpu", gpu_f32=True).validate())
    assert args[args.index("--accelerator") + 1] == "gpu" and "--gpu-f32" in args
    assert "--gpu-f32" not in _option_args(ProfileOptions(accelerator="gpu"))
