"""The fork server: attempts of `python -m flowdsl.runtime` run as they would alone, faster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowdsl.local.forkserver import (
    DISABLE_VARIABLE,
    ForkedProcess,
    ForkServer,
    ForkServerError,
    enabled,
)

pytestmark = pytest.mark.skipif(not enabled({}), reason="the fork server runs on Linux only")

TASKS = textwrap.dedent(
    """
    import atexit
    import os
    import sys
    import threading
    import time

    from flowdsl import task


    @task
    def square(x: int) -> int:
        print("stdout of square", x)
        print("stderr of square", file=sys.stderr)
        return x * x


    @task
    def where() -> dict:
        return {
            "cwd": os.getcwd(),
            "path0": sys.path[0],
            "argv0": os.path.basename(sys.argv[0]),
            "own_group": os.getpgid(0) == os.getpid(),
            "marker": os.environ.get("BENCH_MARKER"),
            "leak": os.environ.get("SERVER_ONLY"),
            "main": sys.modules["__main__"].__spec__.name,
        }


    @task
    def boom() -> int:
        raise ValueError("boom in the task")


    @task
    def sleep() -> None:
        time.sleep(60)


    @task
    def finish(path: str) -> None:
        atexit.register(lambda: open(path + ".atexit", "w").write("ran"))

        def late() -> None:
            time.sleep(0.2)
            open(path + ".thread", "w").write("joined")

        threading.Thread(target=late).start()
    """
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory holding the task module, on PYTHONPATH (the image contains the project)."""
    (tmp_path / "fs_tasks.py").write_text(TASKS)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("SERVER_ONLY", "set when the server started")
    return tmp_path


@pytest.fixture
def server(project: Path) -> Iterator[ForkServer]:
    with ForkServer() as started:
        yield started


def env_for(project: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SERVER_ONLY"}
    return {**env, "PYTHONPATH": str(project), **extra}


def attempt(
    server: ForkServer, project: Path, name: str, *args: str, **extra: str
) -> tuple[ForkedProcess, Path]:
    """Start one attempt of task ``name`` in its own directory."""
    directory = Path(tempfile.mkdtemp(prefix=f"attempt-{name}-", dir=project))
    argv = [
        sys.executable,
        "-m",
        "flowdsl.runtime",
        "--function",
        f"fs_tasks:{name}",
        "--outputs",
        str(directory / "out"),
        *args,
    ]
    process = server.spawn(
        argv,
        env=env_for(project, **extra),
        cwd=directory,
        stdout=directory / "stdout.log",
        stderr=directory / "stderr.log",
    )
    return process, directory


class TestEnabled:
    def test_switch(self) -> None:
        """FLOWDSL_LOCAL_FORKSERVER=0 (or false, no, off) turns it off; anything else keeps it."""
        assert enabled({})
        assert enabled({DISABLE_VARIABLE: "1"})
        for off in ("0", "false", "No", " off "):
            assert not enabled({DISABLE_VARIABLE: off})


class TestAccepts:
    def test_only_the_runtime_of_this_interpreter(self) -> None:
        """Only `<this python> -m flowdsl.runtime ...` goes through the server."""
        server = ForkServer(environ={})
        env: dict[str, str] = {}
        assert server.accepts([sys.executable, "-m", "flowdsl.runtime", "--function", "m:f"], env)
        assert not server.accepts(["python", "-m", "flowdsl.runtime"], env)
        assert not server.accepts([sys.executable, "-m", "other"], env)
        assert not server.accepts([sys.executable, "-c", "pass"], env)
        assert not server.accepts(["true"], env)

    def test_startup_variables_must_match(self) -> None:
        """A PYTHON* variable that changes how Python starts means a new interpreter."""
        server = ForkServer(environ={"PYTHONHASHSEED": "1", "PYTHONPATH": "/a"})
        argv = [sys.executable, "-m", "flowdsl.runtime"]
        assert server.accepts(argv, {"PYTHONHASHSEED": "1", "PYTHONPATH": "/b", "X": "y"})
        assert not server.accepts(argv, {"PYTHONHASHSEED": "2"})
        assert not server.accepts(argv, {"PYTHONHASHSEED": "1", "PYTHONOPTIMIZE": "1"})

    def test_strings_exec_would_refuse_are_left_to_exec(self) -> None:
        """An argument or variable of 128 KiB or more goes to a real exec (which fails, as
        it does in a pod), not through a fork that would hide the limit."""
        server = ForkServer(environ={})
        argv = [sys.executable, "-m", "flowdsl.runtime", "--function", "m:f"]
        assert server.accepts([*argv, "x=" + "a" * 1000], {})
        assert not server.accepts([*argv, "x=" + "a" * (128 * 1024)], {})
        assert not server.accepts(argv, {"BIG": "a" * (128 * 1024)})

    def test_closed_server_accepts_nothing(self) -> None:
        """After close(), attempts run as ordinary processes."""
        server = ForkServer()
        server.close()
        assert not server.accepts([sys.executable, "-m", "flowdsl.runtime"], dict(os.environ))


class TestAttempts:
    def test_runs_the_task(self, server: ForkServer, project: Path) -> None:
        """Inputs decoded, function called, output written, streams in the attempt's files."""
        process, directory = attempt(server, project, "square", "--input", "x=7")
        assert process.pid > 0
        assert process.wait(timeout=30) == 0
        assert process.poll() == process.returncode == 0
        # stdout is the result alone; what the task prints goes to stderr, as in a pod.
        assert (directory / "stdout.log").read_text() == "49\n"
        assert (directory / "stderr.log").read_text() == "stdout of square 7\nstderr of square\n"

    def test_is_like_python_dash_m(self, server: ForkServer, project: Path) -> None:
        """Working directory first on sys.path, own session, exactly the given environment."""
        process, directory = attempt(server, project, "where", BENCH_MARKER="here")
        assert process.wait(timeout=30) == 0
        import json

        seen = json.loads((directory / "stdout.log").read_text())
        assert seen == {
            "cwd": str(directory),
            "path0": str(directory),
            "argv0": "__main__.py",
            "own_group": True,
            "marker": "here",
            "leak": None,
            "main": "flowdsl.runtime.__main__",
        }

    def test_exit_status_of_a_failing_task(self, server: ForkServer, project: Path) -> None:
        """A task that raises exits 1 with its traceback; bad inputs exit 2, as alone."""
        process, directory = attempt(server, project, "boom")
        assert process.wait(timeout=30) == 1
        assert "ValueError: boom in the task" in (directory / "stderr.log").read_text()
        process, directory = attempt(server, project, "square", "--input", "x=seven")
        assert process.wait(timeout=30) == 2

    def test_atexit_and_threads(self, server: ForkServer, project: Path) -> None:
        """atexit handlers run and non-daemon threads are joined before the attempt ends."""
        marker = project / "finish"
        process, _ = attempt(server, project, "finish", "--input", f"path={marker}")
        assert process.wait(timeout=30) == 0
        assert Path(f"{marker}.atexit").read_text() == "ran"
        assert Path(f"{marker}.thread").read_text() == "joined"

    def test_timeout_and_kill(self, server: ForkServer, project: Path) -> None:
        """wait() times out like Popen's; the attempt's group can be killed; status is -signal."""
        process, _ = attempt(server, project, "sleep")
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=0.2)
        os.killpg(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL

    def test_concurrent_spawns(self, server: ForkServer, project: Path) -> None:
        """Worker threads spawn at once; every attempt gets its own answer."""
        results: dict[int, str] = {}

        def one(i: int) -> None:
            process, directory = attempt(server, project, "square", "--input", f"x={i}")
            process.wait(timeout=60)
            results[i] = (directory / "stdout.log").read_text().rstrip("\n")

        threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == {i: str(i * i) for i in range(12)}


class TestFailures:
    def test_server_death_fails_running_attempts(self, server: ForkServer, project: Path) -> None:
        """If the server dies, waiting attempts raise and later spawns are refused."""
        process, _ = attempt(server, project, "sleep")
        server_proc = server._proc
        assert server_proc is not None
        server_proc.kill()
        with pytest.raises(ForkServerError, match="stopped"):
            process.wait(timeout=30)
        os.killpg(process.pid, signal.SIGKILL)
        with pytest.raises(ForkServerError, match="stopped"):
            attempt(server, project, "square", "--input", "x=1")
        assert not server.accepts([sys.executable, "-m", "flowdsl.runtime"], dict(os.environ))

    def test_spawn_after_close(self, project: Path) -> None:
        """A closed server refuses to spawn (the caller runs the attempt itself)."""
        server = ForkServer()
        server.close()
        server.close()  # idempotent
        with pytest.raises(ForkServerError, match="closed"):
            attempt(server, project, "square", "--input", "x=1")
