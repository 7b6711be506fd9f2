"""A fork server for the ``python -m flowdsl.runtime`` attempts of a local run.

Every flowdsl task runs ``python -m flowdsl.runtime``; locally that is one new interpreter
per attempt: about 20 ms to start Python, then importing the runtime, the user's module and
``flowdsl.dsl`` (which that module imports) - some 65 ms of CPU an attempt on a 2-core
machine, so a 1,000-item map took over 30 s. The fork server pays those imports once: it is
one helper process that imports the runtime and the DSL, then forks a child per attempt.
The child becomes what ``python -m flowdsl.runtime ARGS`` would be - new session, working
directory, environment, ``sys.path`` (the working directory first, then ``PYTHONPATH``),
``sys.argv``, standard streams on the attempt's files, ``__main__`` run by ``runpy`` - and
exits with the runtime's status after running ``atexit`` handlers and joining its threads.
An attempt then costs a few milliseconds besides the task's own work.

What differs from a fresh interpreter, and why it is acceptable for a development engine:
the preloaded modules are already in ``sys.modules`` (a fresh process would import the same
ones, as every task module imports flowdsl); the string hash seed is the server's, shared
by the attempts of one run; interpreter finalisation (module teardown) is skipped. Attempts
whose environment changes how Python starts (a ``PYTHON*`` variable other than
``PYTHONPATH`` that differs from the server's), commands other than this interpreter with
``-m flowdsl.runtime``, and platforms other than Linux (where fork is safe after the
imports done here) run as ordinary processes; so does everything when
``FLOWDSL_LOCAL_FORKSERVER=0``.

Protocol (JSON lines): the engine writes ``{"id", "args", "env", "cwd", "stdout",
"stderr"}`` to the server's stdin; the server answers ``{"id", "pid"}`` once the child
exists (or ``{"id", "error"}``), then ``{"id", "status"}`` when it has ended (a negative
status is the signal that ended it, as ``subprocess`` reports). Closing the server's stdin
stops it.

:class:`ForkServer` is the engine's side; :class:`ForkedProcess` has the part of
``subprocess.Popen`` that :mod:`flowdsl.local.process` uses (``pid``, ``wait``, ``poll``,
``returncode``), so an attempt is handled the same way whichever started it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["DISABLE_VARIABLE", "ForkServer", "ForkServerError", "ForkedProcess", "enabled"]

#: Set to ``0`` to run every attempt as a new interpreter.
DISABLE_VARIABLE = "FLOWDSL_LOCAL_FORKSERVER"
#: What the server imports before it forks (what every flowdsl task process imports).
_PRELOAD = ("flowdsl.runtime._main", "flowdsl.dsl", "flowdsl.types", "flowdsl.context")
_RUNTIME = ("-m", "flowdsl.runtime")
#: Seconds to wait for the server to report a child's pid (it forks at once).
_SPAWN_TIMEOUT = 60.0


class ForkServerError(RuntimeError):
    """The fork server cannot start an attempt, or stopped while attempts were running."""


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether attempts may go through a fork server on this machine."""
    env = os.environ if environ is None else environ
    return (
        sys.platform.startswith("linux")
        and hasattr(os, "fork")
        and env.get(DISABLE_VARIABLE, "1").strip().lower() not in ("0", "false", "no", "off")
    )


#: Linux's limit on one argument or environment string given to exec (MAX_ARG_STRLEN, 32
#: pages of 4 KiB), terminating NUL included.
MAX_EXEC_STRING = 128 * 1024


def _fits_exec(text: str) -> bool:
    return len(text.encode("utf-8", "surrogateescape")) < MAX_EXEC_STRING


def _startup_variables(env: Mapping[str, str]) -> dict[str, str]:
    # Variables read when the interpreter starts; a forked child cannot honour other values.
    return {k: v for k, v in env.items() if k.startswith("PYTHON") and k != "PYTHONPATH"}


class ForkedProcess:
    """One attempt started by the fork server (the subset of ``subprocess.Popen`` in use)."""

    def __init__(self, args: Sequence[str]) -> None:
        self.args = list(args)
        self.pid = -1
        self.returncode: int | None = None
        self.error: str | None = None
        self._started = threading.Event()
        self._done = threading.Event()

    def poll(self) -> int | None:
        """The exit status, or ``None`` while it runs."""
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the end of the attempt and return its exit status.

        Raises:
            subprocess.TimeoutExpired: it is still running after ``timeout`` seconds.
            ForkServerError: the server stopped, so the status cannot be known.
        """
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        if self.error is not None:
            raise ForkServerError(self.error)
        assert self.returncode is not None
        return self.returncode

    # Called by the server's reader thread.

    def _set_pid(self, pid: int) -> None:
        self.pid = pid
        self._started.set()

    def _finish(self, status: int | None, error: str | None = None) -> None:
        self.returncode = status
        self.error = error
        self._started.set()
        self._done.set()


class ForkServer:
    """The engine's side of a fork server; started on first use, stopped by :meth:`close`.

    Thread-safe: the engine's worker threads call :meth:`spawn` concurrently.

    Args:
        environ: the environment the server starts with (default: this process's); attempts
            whose startup variables differ from it are not accepted.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = dict(os.environ if environ is None else environ)
        self._startup = _startup_variables(self._environ)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._pending: dict[int, ForkedProcess] = {}
        self._ids = itertools.count(1)
        self._failed: str | None = None
        self._closed = False
        self._reader: threading.Thread | None = None

    def accepts(self, argv: Sequence[str], env: Mapping[str, str]) -> bool:
        """Whether ``argv`` with ``env`` can run through the server, as it would alone.

        An argument or variable that ``exec`` would refuse (over Linux's 128 KiB for one
        string, as in a pod) is left to a real ``exec``, so that it fails here as it
        fails on a cluster instead of passing through a fork that never execs.
        """
        return (
            self._failed is None
            and not self._closed
            and len(argv) >= 3
            and argv[0] == sys.executable
            and tuple(argv[1:3]) == _RUNTIME
            and _startup_variables(env) == self._startup
            and all(_fits_exec(arg) for arg in argv)
            and all(_fits_exec(f"{name}={value}") for name, value in env.items())
        )

    def spawn(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        stdout: Path,
        stderr: Path,
    ) -> ForkedProcess:
        """Start ``argv`` (``python -m flowdsl.runtime ...``) in a child of the server.

        The child runs in a new session (its pid is its process group), in ``cwd``, with
        exactly ``env``, standard input from ``/dev/null`` and its output in the files.

        Raises:
            ForkServerError: the server cannot be started or does not answer.
        """
        process = ForkedProcess(argv)
        request = {
            "args": list(argv[3:]),
            "env": dict(env),
            "cwd": str(cwd),
            "stdout": str(stdout),
            "stderr": str(stderr),
        }
        with self._lock:
            proc = self._ensure_started()
            request_id = next(self._ids)
            self._pending[request_id] = process
        line = json.dumps({"id": request_id, **request}).encode() + b"\n"
        # Writing holds its own lock, not the state lock the reader thread needs: a full
        # pipe must never stop the replies that empty it from being read.
        with self._write_lock:
            try:
                assert proc.stdin is not None
                proc.stdin.write(line)
                proc.stdin.flush()
            except (OSError, ValueError) as exc:  # ValueError: closed meanwhile
                with self._lock:
                    self._pending.pop(request_id, None)
                    self._failed = self._failed or f"the fork server stopped ({exc})"
                raise ForkServerError(self._failed) from None
        if not process._started.wait(_SPAWN_TIMEOUT):
            raise ForkServerError("the fork server did not start the attempt in time")
        if process.pid < 0:
            raise ForkServerError(process.error or "the fork server could not start the attempt")
        return process

    def close(self) -> None:
        """Stop the server (attempts still running keep running; their groups are theirs)."""
        with self._lock:
            self._closed = True
            proc, self._proc = self._proc, None
        if proc is None:
            return
        with self._write_lock, contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------

    def _ensure_started(self) -> subprocess.Popen[bytes]:
        if self._closed:
            raise ForkServerError("the fork server is closed")
        if self._failed is not None:
            raise ForkServerError(self._failed)
        if self._proc is not None:
            return self._proc
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from flowdsl.local.forkserver import serve; serve()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=self._environ,
                start_new_session=True,  # Ctrl-C is the engine's to handle, not the server's
            )
        except OSError as exc:
            self._failed = f"the fork server cannot start ({exc})"
            raise ForkServerError(self._failed) from None
        assert proc.stdout is not None
        self._reader = threading.Thread(
            target=self._read, args=(proc.stdout,), name="flowdsl-forkserver", daemon=True
        )
        self._reader.start()
        self._proc = proc
        return proc

    def _read(self, stream: BinaryIO) -> None:
        with stream:
            self._dispatch(stream)
        with self._lock:
            pending, self._pending = self._pending, {}
            if not self._closed:
                self._failed = "the fork server stopped"
        for process in pending.values():
            process._finish(None, "the fork server stopped while the attempt ran")

    def _dispatch(self, stream: BinaryIO) -> None:
        for raw in stream:
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            with self._lock:
                process = self._pending.get(message.get("id"))
                if process is not None and ("status" in message or "error" in message):
                    del self._pending[message["id"]]
            if process is None:
                continue
            if "pid" in message:
                process._set_pid(int(message["pid"]))
            elif "status" in message:
                process._finish(int(message["status"]))
            else:
                process._finish(None, f"the fork server could not start it: {message['error']}")


# --------------------------------------------------------------------------------------------
# The server (runs in its own process: `python -c "...; serve()"`)
# --------------------------------------------------------------------------------------------


def serve() -> None:
    """Serve fork requests from stdin until it closes; in a child, run the attempt."""
    request = _serve_until_forked()
    if request is None:
        os._exit(0)
    os._exit(_run_attempt(request))


def _serve_until_forked() -> dict[str, Any] | None:
    import gc
    import importlib
    import selectors
    import signal

    for module in _PRELOAD:
        importlib.import_module(module)
    # Objects that exist now are shared with every child; keep the collector off them so
    # that their pages stay shared rather than copied on the first collection.
    gc.collect()
    gc.freeze()
    base_path = [p for p in sys.path[1:] if p not in _path_entries(os.environ)]

    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    children: dict[int, int] = {}  # pid -> request id
    buffer = b""

    def reply(message: dict[str, Any]) -> None:
        data = json.dumps(message).encode() + b"\n"
        while data:
            data = data[os.write(1, data) :]

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            request_id = children.pop(pid, None)
            if request_id is not None:
                reply({"id": request_id, "status": os.waitstatus_to_exitcode(status)})

    while True:
        for key, _ in selector.select():
            if key.fd == wake_read:
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_read, 512):
                        pass
                continue
            data = os.read(0, 1 << 16)
            if not data:
                return None
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                try:
                    pid = os.fork()
                except OSError as exc:
                    reply({"id": request["id"], "error": str(exc)})
                    continue
                if pid == 0:
                    selector.close()
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    os.close(wake_read)
                    os.close(wake_write)
                    request["base_path"] = base_path
                    return request  # type: ignore[no-any-return]
                children[pid] = request["id"]
                reply({"id": request["id"], "pid": pid})
        reap()


def _path_entries(env: Mapping[str, str]) -> list[str]:
    return [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]


def _run_attempt(request: dict[str, Any]) -> int:
    """In the forked child: become ``python -m flowdsl.runtime ARGS`` and run it."""
    import atexit
    import importlib
    import io
    import runpy
    import traceback

    os.setsid()
    devnull = os.open(os.devnull, os.O_RDONLY)
    out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for fd, target in ((devnull, 0), (out, 1), (err, 2)):
        os.dup2(fd, target)
        os.close(fd)
    env: dict[str, str] = request["env"]
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(env)
    # `python -m` puts the working directory first, then PYTHONPATH, then the rest.
    sys.path[:] = [os.getcwd(), *_path_entries(env), *request["base_path"]]
    importlib.invalidate_caches()
    unbuffered = bool(env.get("PYTHONUNBUFFERED"))
    # The streams the interpreter would have made for these descriptors (sys.__std*__ too).
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = io.TextIOWrapper(
        open(1, "wb", buffering=0 if unbuffered else -1, closefd=False),  # noqa: SIM115
        encoding="utf-8",
        write_through=unbuffered,
    )
    sys.stderr = io.TextIOWrapper(
        open(2, "wb", buffering=0, closefd=False),  # noqa: SIM115
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
    for name in ("stdin", "stdout", "stderr"):
        setattr(sys, f"__{name}__", getattr(sys, name))
    sys.argv = ["-m", *request["args"]]
    code = 0
    try:
        runpy.run_module("flowdsl.runtime", run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        if isinstance(exit_.code, int) or exit_.code is None:
            code = exit_.code or 0
        else:
            print(exit_.code, file=sys.stderr)
            code = 1
    except BaseException:  # what the interpreter would print before exiting with 1
        traceback.print_exc()
        code = 1
    # What interpreter shutdown does that a task can observe: atexit, non-daemon threads.
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    return code
