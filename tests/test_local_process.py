"""One attempt as a local process: paths re-rooted, python swapped in, outputs read, stopped."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

from flowdsl.local.process import MAX_RESULT_BYTES, ProcessHandle, prepare


def template(kind: str = "container", **body: Any) -> dict[str, Any]:
    return {
        "name": "t",
        "outputs": {
            "parameters": [{"name": "return", "valueFrom": {"path": "/tmp/flowdsl/outputs/return"}}]
        },
        kind: {"image": "ignored", **body},
    }


class TestPrepare:
    def test_paths_are_re_rooted(self, tmp_path: Path) -> None:
        """Declared output paths and their parent directory move under the attempt's root."""
        launch = prepare(
            "container",
            template(
                command=["sh", "-c"],
                args=[
                    "--outputs /tmp/flowdsl/outputs",
                    "cat /tmp/flowdsl/outputs/return",
                    "--out=/tmp/flowdsl/outputs/x",
                    "/tmp/flowdsl/outputsfile $HOME/tmp/flowdsl/outputs /tmp/other",
                ],
            ),
            tmp_path / "a",
            extra_env={},
            deadline=None,
        )
        root = tmp_path / "a" / "root"
        assert launch.argv[2:] == (
            f"--outputs {root}/tmp/flowdsl/outputs",
            f"cat {root}/tmp/flowdsl/outputs/return",
            f"--out={root}/tmp/flowdsl/outputs/x",
            "/tmp/flowdsl/outputsfile $HOME/tmp/flowdsl/outputs /tmp/other",
        )
        assert (root / "tmp" / "flowdsl" / "outputs").is_dir()
        assert launch.outputs[0].path == root / "tmp" / "flowdsl" / "outputs" / "return"
        assert launch.outputs[0].declared == "/tmp/flowdsl/outputs/return"

    def test_python_is_this_interpreter(self, tmp_path: Path) -> None:
        """python, python3 and python3.X as the first word run sys.executable."""
        for word in ("python", "python3", "python3.11", "/usr/bin/python3"):
            launch = prepare(
                "container",
                template(command=[word, "-c", "pass"]),
                tmp_path,
                extra_env={},
                deadline=None,
            )
            assert launch.argv[0] == sys.executable
        launch = prepare(
            "container", template(command=["sh"]), tmp_path, extra_env={}, deadline=None
        )
        assert launch.argv[0] == "sh"

    def test_script_source_is_the_last_argument(self, tmp_path: Path) -> None:
        """A script's source is written to <attempt>/script, re-rooted, and appended."""
        launch = prepare(
            "script",
            template(
                "script",
                command=["python"],
                args=["--payload"],
                source="open('/tmp/flowdsl/outputs/return', 'w').write('1')",
            ),
            tmp_path,
            extra_env={},
            deadline=None,
        )
        script = tmp_path / "script"
        assert launch.argv == (sys.executable, "--payload", str(script))
        assert (
            script.read_text()
            == f"open('{tmp_path}/root/tmp/flowdsl/outputs/return', 'w').write('1')"
        )

    def test_environment(self, tmp_path: Path, monkeypatch: Any) -> None:
        """env values are set, Secret-backed ones are not; PYTHONPATH starts with the cwd."""
        monkeypatch.setenv("PYTHONPATH", "/elsewhere")
        launch = prepare(
            "container",
            template(
                command=["true"],
                env=[
                    {"name": "PLAIN", "value": "1"},
                    {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                ],
            ),
            tmp_path,
            extra_env={"ARGO_NODE_ID": "n1"},
            deadline=None,
        )
        assert launch.env["PLAIN"] == "1"
        assert launch.env.get("TOKEN") == os.environ.get("TOKEN")
        assert launch.env["ARGO_NODE_ID"] == "n1"
        assert launch.env["PYTHONPATH"] == f"{os.getcwd()}{os.pathsep}/elsewhere"
        assert launch.cwd == tmp_path


class TestRun:
    def test_outputs_and_result(self, tmp_path: Path) -> None:
        """Exit code, stdout as result (one newline trimmed), output file (one newline trimmed)."""
        launch = prepare(
            "container",
            template(
                command=["sh", "-c", "printf 'a\\n\\n'; echo 42 > /tmp/flowdsl/outputs/return"]
            ),
            tmp_path,
            extra_env={},
            deadline=None,
        )
        outcome = ProcessHandle(launch).run()
        assert outcome.exit_code == 0
        assert outcome.result == "a\n"
        assert outcome.outputs == {"return": "42"}
        assert outcome.missing == []

    def test_result_keeps_the_last_256_kib(self, tmp_path: Path) -> None:
        """A long stdout keeps its last 256 KiB, as Argo does."""
        code = f"import sys; sys.stdout.write('x' * 10 + 'y' * {MAX_RESULT_BYTES})"
        launch = prepare(
            "container",
            template(command=["python", "-c", code]),
            tmp_path,
            extra_env={},
            deadline=None,
        )
        outcome = ProcessHandle(launch).run()
        assert outcome.result == "y" * MAX_RESULT_BYTES

    def test_missing_output(self, tmp_path: Path) -> None:
        """An output file the command did not write is reported missing."""
        launch = prepare(
            "container", template(command=["true"]), tmp_path, extra_env={}, deadline=None
        )
        assert ProcessHandle(launch).run().missing == ["return"]

    def test_cannot_start(self, tmp_path: Path) -> None:
        """A command that does not exist is a spawn error, not an exception."""
        launch = prepare(
            "container",
            template(command=["no-such-command-xyz"]),
            tmp_path,
            extra_env={},
            deadline=None,
        )
        outcome = ProcessHandle(launch).run()
        assert (
            outcome.spawn_error == "cannot start 'no-such-command-xyz': No such file or directory"
        )

    def test_deadline(self, tmp_path: Path) -> None:
        """Past its deadline the process group is killed and the outcome says timed out."""
        launch = prepare(
            "container", template(command=["sleep", "30"]), tmp_path, extra_env={}, deadline=0.1
        )
        outcome = ProcessHandle(launch).run()
        assert outcome.timed_out
        assert outcome.exit_code is not None
        assert outcome.exit_code < 0

    def test_stop(self, tmp_path: Path) -> None:
        """stop() from another thread ends the process; the outcome says stopped."""
        launch = prepare(
            "container", template(command=["sleep", "30"]), tmp_path, extra_env={}, deadline=None
        )
        handle = ProcessHandle(launch)
        started = threading.Event()
        outcome: list[Any] = []

        def work() -> None:
            started.set()
            outcome.append(handle.run())

        thread = threading.Thread(target=work)
        thread.start()
        started.wait()
        while handle._proc is None:  # wait until the process exists
            threading.Event().wait(0.01)
        handle.stop()
        thread.join(timeout=10)
        assert outcome
        assert outcome[0].stopped
