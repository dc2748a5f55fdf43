"""Profiling on another machine over SSH: copy the model, run edgekit there, bring the JSON back.

Uses the system OpenSSH client with BatchMode (never a password prompt) and a connect
timeout. Arguments go to ssh as a list; the one command line the remote shell sees is
built with shlex.quote around every part.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from edgekit._version import __version__
from edgekit.errors import ProfileError
from edgekit.profiler.options import ProfileOptions

_HOST = re.compile(r"^(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d+))?$")


@dataclass(frozen=True)
class RemoteHost:
    user: str | None
    host: str
    port: int | None

    @classmethod
    def parse(cls, text: str) -> "RemoteHost":
        match = _HOST.match(text)
        if not match or match["host"].startswith("-"):
            raise ProfileError(f"remote {text!r}: expected [user@]host[:port]")
        return cls(match["user"], match["host"].strip("[]"), int(match["port"]) if match["port"] else None)

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    def __str__(self) -> str:
        return self.destination + (f":{self.port}" if self.port else "")


@dataclass(frozen=True)
class SshSettings:
    connect_timeout: int = 10
    identity: str | None = None
    options: tuple[str, ...] = ()  # extra -o settings, e.g. "StrictHostKeyChecking=accept-new"
    python: str = "python3"  # the interpreter on the remote host that has edgekit installed

    def ssh_args(self, host: RemoteHost) -> list[str]:
        args = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}"]
        if host.port:
            args += ["-p", str(host.port)]
        if self.identity:
            args += ["-i", self.identity]
        for option in self.options:
            args += ["-o", option]
        return args


def profile_remote(models: Sequence[str | Path], options: ProfileOptions, remote: str,
                   ssh: SshSettings = SshSettings()) -> list[dict]:
    host = RemoteHost.parse(remote)
    for model in models:
        if not Path(model).is_file():
            raise ProfileError(f"{model}: no such file")
    remote_version = _remote_version(host, ssh)
    folder = _ssh(host, ssh, "mktemp -d /tmp/edgekit-profile.XXXXXX", what="create a folder").strip()
    if not folder.startswith("/tmp/edgekit-profile."):
        raise ProfileError(f"{host}: unexpected answer to mktemp: {folder[:100]!r}")
    try:
        remote_paths = []
        for i, model in enumerate(models):
            target = f"{folder}/{i}_{Path(model).name}"
            # Through ssh's stdin rather than scp: scp needs the SFTP subsystem, which
            # small boards (dropbear) and minimal sshd configurations lack.
            with open(model, "rb") as source:
                _ssh(host, ssh, f"cat > {shlex.quote(target)}", what=f"copy {model}", stdin=source)
            remote_paths.append(target)
        command = [ssh.python, "-m", "edgekit", "profile", "--json", *_option_args(options), *remote_paths]
        out = _ssh(host, ssh, shlex.join(command), what="profile", timeout=options.timeout * len(models) + 60,
                   allow_exit=(0,))
    finally:
        _ssh(host, ssh, shlex.join(["rm", "-rf", folder]), what="clean up", check=False)
    data = json.loads(out)
    results = data if isinstance(data, list) else [data]
    for local, result in zip(models, results):
        result["model"] = str(local)
        result["remote"] = {"host": str(host), "edgekit_version": remote_version}
    return results


def run_remote(args: Sequence[str], remote: str, ssh: SshSettings = SshSettings(), *, what: str,
               timeout: float) -> tuple[str, str]:
    """``python -m edgekit ARGS`` on the remote host (same edgekit version); returns its
    standard output and the host's name."""
    host = RemoteHost.parse(remote)
    _remote_version(host, ssh)
    out = _ssh(host, ssh, shlex.join([ssh.python, "-m", "edgekit", *args]), what=what, timeout=timeout)
    return out, str(host)


def _option_args(options: ProfileOptions) -> list[str]:
    args = ["--threads", str(options.threads), "--warmup", str(options.warmup), "--runs", str(options.runs),
            "--timeout", str(options.timeout)]
    if options.duration:
        args += ["--duration", str(options.duration)]
    for flag, value in (("--delegate", options.delegate), ("--device", options.device),
                        ("--accelerator", options.accelerator), ("--runtime", options.runtime)):
        if value:
            args += [flag, value]
    if options.per_op:
        args.append("--per-op")
    if options.gpu_f32:
        args.append("--gpu-f32")
    if options.input_shape:
        args += ["--input-shape", ",".join(str(d) for d in options.input_shape)]
    if options.inputs_dir:
        raise ProfileError("--inputs is not supported with --remote: the images would have to be copied too")
    return args


def _remote_version(host: RemoteHost, ssh: SshSettings) -> str:
    out = _ssh(host, ssh, shlex.join([ssh.python, "-m", "edgekit", "--version"]), what="find edgekit",
               install_hint=True)
    match = re.search(r"version\s+(\S+)", out)
    if not match:
        raise ProfileError(f"{host}: '{ssh.python} -m edgekit --version' answered {out.strip()[:100]!r}")
    version = match.group(1)
    if version.split(".")[:2] != __version__.split(".")[:2]:
        raise ProfileError(f"{host} has edgekit {version}, this machine {__version__}: install the same "
                           f"version there (pip install edgekit=={__version__})")
    return version


def _ssh(host: RemoteHost, ssh: SshSettings, command: str, *, what: str, timeout: float | None = None,
         check: bool = True, allow_exit: tuple[int, ...] = (0,), install_hint: bool = False, stdin=None) -> str:
    args = ["ssh", *ssh.ssh_args(host), host.destination, command]
    # The connect timeout bounds an unreachable host; this bounds everything else.
    limit = timeout if timeout is not None else ssh.connect_timeout + 60
    try:
        done = subprocess.run(args, capture_output=True, timeout=limit, check=False,
                              stdin=stdin if stdin is not None else subprocess.DEVNULL)
    except FileNotFoundError:
        raise ProfileError(f"{args[0]} not found: install the OpenSSH client") from None
    except subprocess.TimeoutExpired:
        raise ProfileError(f"{host}: could not {what} within {limit:g}s") from None
    stdout = done.stdout.decode("utf-8", "replace")
    if not check or done.returncode in allow_exit:
        return stdout
    stderr = done.stderr.decode("utf-8", "replace")
    errors = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("INFO")]
    if done.returncode == 255:
        reason = errors[-1] if errors else "ssh failed"
        raise ProfileError(f"cannot reach {host}: {reason}")
    if install_hint:
        raise ProfileError(f"{host}: edgekit is not installed for {ssh.python} there "
                           f"({errors[-1] if errors else 'exit ' + str(done.returncode)}): "
                           "pip install edgekit on that host, or pass --remote-python")
    reason = errors[-1] if errors else f"exit {done.returncode}"
    raise ProfileError(f"{host}: {what} failed: {reason.removeprefix('Error: ')}")
