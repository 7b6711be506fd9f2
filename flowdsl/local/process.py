"""Running one attempt of a container or script template as a local process.

NOTE: [Paths] A container sees its own filesystem; locally every attempt shares this
machine's, so two tasks writing ``/tmp/flowdsl/outputs/return`` at once would collide. The
rule: every absolute path a template declares as an output
(``outputs.parameters[].valueFrom.path``, ``inputs.artifacts[].path``,
``outputs.artifacts[].path``) is re-rooted under the attempt's directory,
``<attempt dir>/root/<path>``, and every occurrence of such a path, and of its parent
directory (except ``/``), in the command, the args and the script source is replaced by
its re-rooted form before the process starts. That covers ``--outputs /tmp/flowdsl/outputs``
(the runtime writes ``/tmp/flowdsl/outputs/return``) and ``echo 1 > /tmp/out.txt``. An
occurrence only counts as a whole path: ``/tmp`` in ``/tmpfile`` or ``$HOME/tmp`` is left
alone. The parent directories of the re-rooted paths are created, as an image would have
them. Mounted volumes use the same mechanism: a mount path, and every path under it, is
replaced by the volume's local directory (:mod:`flowdsl.local.volumes`), in the command,
the args, the script source and the ``env`` values; an output path under a mount is read
from the volume. Paths the template declares neither way are not touched.

Other local stand-ins for a pod:

- the image is ignored; ``python``/``python3`` (or ``python3.X``) as the command's first
  word runs this interpreter (``sys.executable``), so the project's environment is used;
- the working directory is the attempt's directory, so relative files never collide; a
  ``workingDir`` is re-rooted like a path (under a mount, it is the volume's directory);
- the environment is this process's (without its ``FLOWDSL_SECRET_*`` variables), plus
  the values ``envFrom`` reads, plus the template's ``env`` entries in order (a Secret's
  or ConfigMap's value as :mod:`flowdsl.local.sources` found it), plus ``PYTHONPATH`` with
  the current directory first (the image would contain the project); an ``env`` entry
  read from elsewhere (``fieldRef``, ``resourceFieldRef``) is not set;
- a script template's ``source`` is written to ``<attempt dir>/script`` and its path is
  appended as the last argument, as Argo does;
- ``outputs.result`` is the standard output with one trailing newline removed, keeping
  the last 256 KiB (Argo's limit: ``maxAnnotationSize`` in the executor); an output
  parameter is its file's text with one trailing newline removed, or ``valueFrom.default``
  when the file is missing;
- input artifacts are copied to their re-rooted paths before the process starts, and
  output artifacts kept in the run directory after it exits 0
  (:mod:`flowdsl.local.artifacts`);
- the process starts in a new session; when it ends, times out or is stopped, its whole
  process group is killed, so nothing it started is left running;
- when it has ended, secret values are masked in its ``stdout.log`` and ``stderr.log``
  (after its result and outputs are read, so what it hands on is intact).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from flowdsl.local.artifacts import ArtifactIn, ArtifactOut, place_inputs, store_outputs

if TYPE_CHECKING:
    from flowdsl.local.sources import Masker
    from flowdsl.local.volumes import Mount

__all__ = [
    "MAX_RESULT_BYTES",
    "Launch",
    "Outcome",
    "OutputSpec",
    "ProcessHandle",
    "prepare",
]

#: Argo keeps at most this much of stdout as ``outputs.result`` (the last part).
MAX_RESULT_BYTES = 256 * 1024
#: Seconds between SIGTERM and SIGKILL when a process must stop.
KILL_GRACE = 2.0
_PYTHON = re.compile(r"python(3(\.\d+)?)?")


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """Where one output parameter of a leaf attempt is read from.

    Attributes:
        name: the output parameter.
        path: the re-rooted file, or ``None`` for an output that is not read from a file.
        declared: the path as the template declares it (for messages).
        default: ``valueFrom.default``, used when the file is missing.
    """

    name: str
    path: Path | None
    declared: str | None
    default: str | None


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything needed to start one attempt."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    stdout: Path
    stderr: Path
    deadline: float | None
    outputs: tuple[OutputSpec, ...]
    masker: Masker | None = None
    artifacts_in: tuple[ArtifactIn, ...] = ()
    artifacts_out: tuple[ArtifactOut, ...] = ()


@dataclass(slots=True)
class Outcome:
    """What an attempt did (filled by the worker thread, read by the scheduler)."""

    started_at: datetime
    finished_at: datetime
    exit_code: int | None = None
    timed_out: bool = False
    stopped: bool = False
    spawn_error: str | None = None
    result: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    artifacts: dict[str, Path] = field(default_factory=dict)
    missing_artifacts: list[str] = field(default_factory=list)
    artifact_error: str | None = None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _reroot(root: Path, path: str) -> Path:
    return root.joinpath(*PurePosixPath(path).parts[1:])


def _path_pattern(paths: Sequence[str], mounts: Sequence[str] = ()) -> re.Pattern[str] | None:
    candidates: set[str] = set(mounts)
    for path in paths:
        pure = PurePosixPath(path)
        candidates.add(str(pure))
        if str(pure.parent) != "/":
            candidates.add(str(pure.parent))
    if not candidates:
        return None
    alternatives = "|".join(re.escape(p) for p in sorted(candidates, key=len, reverse=True))
    return re.compile(rf"(?<![\w./-])({alternatives})(?![\w.-])")


class _PathMap:
    """Where a container path is locally: in a mounted volume, else under the attempt's root."""

    def __init__(self, root: Path, mounts: Sequence[Mount]) -> None:
        self.root = root
        # Deepest first: a mount inside another mount wins.
        self.mounts = sorted(mounts, key=lambda m: len(PurePosixPath(m.path).parts), reverse=True)

    def local(self, path: str) -> Path:
        pure = PurePosixPath(path)
        for mount in self.mounts:
            inside = PurePosixPath(mount.path)
            if pure == inside or inside in pure.parents:
                return mount.local.joinpath(*pure.relative_to(inside).parts)
        return _reroot(self.root, path)


def prepare(
    kind: str,
    template: Mapping[str, Any],
    attempt_dir: Path,
    *,
    extra_env: Mapping[str, str],
    deadline: float | None,
    mounts: Sequence[Mount] = (),
    env_from: Mapping[str, str] | None = None,
    value_from: Mapping[str, str] | None = None,
    masker: Masker | None = None,
    artifact_sources: Mapping[str, Path] | None = None,
    artifact_store: Path | None = None,
) -> Launch:
    """Build the command of one attempt of a (substituted) container or script template.

    Args:
        kind: ``"container"`` or ``"script"``.
        template: the template after substitution.
        attempt_dir: the attempt's directory (created here).
        extra_env: variables set for the process on top of the template's ``env``.
        deadline: seconds the attempt may run, if limited.
        mounts: the attempt's volumes (their directories exist already).
        env_from: the variables the container's ``envFrom`` sets.
        value_from: the values of ``env`` entries read from a Secret or ConfigMap, by name.
        masker: hides secret values in the attempt's logs once it has ended.
        artifact_sources: the stored artifact each input artifact is copied from, by name
            (an input missing here is an optional one that nothing supplied).
        artifact_store: the node's directory of stored output artifacts.
    """
    body: Mapping[str, Any] = template[kind]
    root = attempt_dir / "root"
    paths = _PathMap(root, mounts)
    outputs: list[OutputSpec] = []
    declared_paths: list[str] = []
    for param in (template.get("outputs") or {}).get("parameters") or []:
        source = param.get("valueFrom") or {}
        default = source.get("default")
        path = source.get("path")
        if path:
            text = str(path)
            local = paths.local(text) if text.startswith("/") else attempt_dir / text
            if text.startswith("/"):
                declared_paths.append(text)
            outputs.append(
                OutputSpec(
                    str(param.get("name")), local, text, None if default is None else str(default)
                )
            )
    artifacts_in: list[ArtifactIn] = []
    artifacts_out: list[ArtifactOut] = []
    sources = artifact_sources or {}
    for side in ("inputs", "outputs"):
        for artifact in (template.get(side) or {}).get("artifacts") or []:
            name = str(artifact.get("name"))
            text = str(artifact.get("path") or "")
            if not text:
                continue
            if text.startswith("/"):
                declared_paths.append(text)
                local = paths.local(text)
            else:
                local = attempt_dir / text
            if side == "inputs" and name in sources:
                mode = artifact.get("mode")
                artifacts_in.append(
                    ArtifactIn(
                        name, text, local, sources[name], mode if isinstance(mode, int) else None
                    )
                )
            elif side == "outputs" and artifact_store is not None:
                artifacts_out.append(
                    ArtifactOut(
                        name, text, local, bool(artifact.get("optional")), artifact_store / name
                    )
                )
    pattern = _path_pattern(declared_paths, [m.path for m in mounts])

    def rewrite(text: str) -> str:
        if pattern is None:
            return text
        return pattern.sub(lambda m: str(paths.local(m.group(1))), text)

    attempt_dir.mkdir(parents=True, exist_ok=True)
    for path in declared_paths:
        paths.local(path).parent.mkdir(parents=True, exist_ok=True)

    argv = [rewrite(str(part)) for part in body.get("command") or []]
    argv += [rewrite(str(part)) for part in body.get("args") or []]
    if argv and _PYTHON.fullmatch(os.path.basename(argv[0])):
        argv[0] = sys.executable
    if kind == "script":
        script = attempt_dir / "script"
        script.write_text(rewrite(str(body.get("source") or "")), encoding="utf-8")
        argv.append(str(script))
    cwd = attempt_dir
    working_dir = str(body.get("workingDir") or "")
    if working_dir.startswith("/"):
        cwd = paths.local(working_dir)
        cwd.mkdir(parents=True, exist_ok=True)

    # A pod sees only what its manifest gives it: the local stand-ins for Secrets stay out.
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDSL_SECRET_")}
    env.update(env_from or {})
    for variable in body.get("env") or []:
        name = str(variable.get("name"))
        if variable.get("valueFrom") is None:
            if "value" in variable:
                env[name] = "" if variable["value"] is None else rewrite(str(variable["value"]))
        elif value_from is not None and name in value_from:
            env[name] = value_from[name]
    env.update(extra_env)
    python_path = [os.getcwd()]
    if env.get("PYTHONPATH"):
        python_path.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(python_path)
    return Launch(
        argv=tuple(argv),
        env=env,
        cwd=cwd,
        stdout=attempt_dir / "stdout.log",
        stderr=attempt_dir / "stderr.log",
        deadline=deadline,
        outputs=tuple(outputs),
        masker=masker,
        artifacts_in=tuple(artifacts_in),
        artifacts_out=tuple(artifacts_out),
    )


def _too_long(argv: Sequence[str]) -> str:
    """What a pod would also refuse: the longest argument, and what to do about it."""
    longest = max(argv, key=len)
    name = longest.partition("=")[0] if "=" in longest[:100] else "an argument"
    return (
        f" (the argument {name!r} is {len(longest.encode()) // 1024} KiB; Linux refuses one "
        "argument over 128 KiB, in a pod too: pass a value that large as an artifact "
        "(bytes, pathlib.Path or Artifact[T]), and reduce a big fan-in in stages)"
    )


def _read_result(path: Path) -> str:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        # One byte more than the limit, for the trailing newline that is trimmed first.
        start = max(0, size - MAX_RESULT_BYTES - 1)
        handle.seek(start)
        data = handle.read()
    if data.endswith(b"\n"):
        data = data[:-1]
    if len(data) > MAX_RESULT_BYTES:
        data = data[-MAX_RESULT_BYTES:]
    return data.decode("utf-8", errors="replace")


class ProcessHandle:
    """One attempt's process.

    :meth:`run` blocks in a worker thread; :meth:`stop` may be called from any thread.
    """

    def __init__(self, launch: Launch, owner: Any = None, forkserver: Any = None) -> None:
        self.launch = launch
        self.forkserver = forkserver
        #: Whatever the caller wants to find the process by (the engine's node).
        self.owner = owner
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop_requested = False

    def stop(self) -> None:
        """Stop the process group now (Ctrl-C, a workflow deadline); idempotent."""
        with self._lock:
            self._stop_requested = True
            proc = self._proc
        if proc is not None:
            _terminate_group(proc)

    def _was_stopped(self) -> bool:
        with self._lock:
            return self._stop_requested

    def run(self) -> Outcome:
        """Start the process, wait for it (up to the deadline), and read its outputs.

        Secret values are masked in the logs afterwards (the outputs are read first).
        """
        try:
            return self._run()
        finally:
            masker = self.launch.masker
            if masker:
                masker.mask_file(self.launch.stdout)
                masker.mask_file(self.launch.stderr)

    def _run(self) -> Outcome:
        launch = self.launch
        started = _now()
        outcome = Outcome(started_at=started, finished_at=started)
        # Staged here, in the worker, so a large copy never holds up the scheduler.
        problem = place_inputs(launch.artifacts_in)
        if problem is not None:
            outcome.spawn_error = problem
            outcome.finished_at = _now()
            return outcome
        with launch.stdout.open("wb") as out, launch.stderr.open("wb") as err:
            try:
                with self._lock:
                    if self._stop_requested:
                        outcome.stopped = True
                        outcome.finished_at = _now()
                        return outcome
                    proc = None
                    server = self.forkserver
                    if server is not None and server.accepts(launch.argv, launch.env):
                        from flowdsl.local.forkserver import ForkServerError

                        try:
                            proc = server.spawn(
                                launch.argv,
                                env=launch.env,
                                cwd=launch.cwd,
                                stdout=launch.stdout,
                                stderr=launch.stderr,
                            )
                        except ForkServerError:
                            proc = None  # run it as a process of its own
                    proc = proc or subprocess.Popen(
                        launch.argv,
                        cwd=launch.cwd,
                        env=dict(launch.env),
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=err,
                        start_new_session=True,
                    )
                    self._proc = proc
            except OSError as exc:
                outcome.spawn_error = f"cannot start {launch.argv[0]!r}: {exc.strerror or exc}"
                if exc.errno == errno.E2BIG:
                    outcome.spawn_error += _too_long(launch.argv)
                outcome.finished_at = _now()
                return outcome
            timed_out = False
            try:
                outcome.exit_code = proc.wait(timeout=launch.deadline)
            except subprocess.TimeoutExpired:
                timed_out = True
                _terminate_group(proc)
                outcome.exit_code = proc.wait()
            finally:
                # Whatever the command left behind in its group goes with it, as with a pod.
                _kill_group(proc.pid)
        outcome.finished_at = _now()
        outcome.timed_out = timed_out
        # Read through a method: another thread may have asked to stop meanwhile.
        outcome.stopped = self._was_stopped() and not timed_out
        if outcome.stopped or outcome.timed_out:
            return outcome
        outcome.result = _read_result(launch.stdout)
        for spec in launch.outputs:
            if spec.path is None:
                continue
            try:
                text = spec.path.read_text(encoding="utf-8", errors="replace")
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                if spec.default is not None:
                    outcome.outputs[spec.name] = spec.default
                else:
                    outcome.missing.append(spec.name)
                continue
            outcome.outputs[spec.name] = text[:-1] if text.endswith("\n") else text
        if outcome.exit_code == 0:
            stored, missing, error = store_outputs(launch.artifacts_out)
            outcome.artifacts = stored
            outcome.missing_artifacts = missing
            outcome.artifact_error = error
        return outcome


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _terminate_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=KILL_GRACE)
    _kill_group(proc.pid)
