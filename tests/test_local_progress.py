"""What a run shows: plain lines, the live view, the failure report."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowdsl.local import run_manifest
from flowdsl.local.engine import Reporter
from flowdsl.local.progress import (
    LiveReporter,
    PlainReporter,
    failure_report,
    make_reporter,
    stderr_tail,
)

MANIFESTS = Path(__file__).parent / "data" / "manifests"


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((MANIFESTS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def lines(text: str) -> list[str]:
    """Lines without their timestamps and durations."""
    out = []
    for line in text.splitlines():
        bare = re.sub(r"^\d\d:\d\d:\d\d ", "", line)
        out.append(re.sub(r"\d+\.\d\ds", "T", bare))
    return out


class TestPlain:
    def test_success(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """One line per start and end, the image note once, then the outcome."""
        result = run_manifest(load("diamond.yaml"), runs_root=tmp_path, progress="plain")
        err = lines(capsys.readouterr().err)
        assert err[0] == f"run {result.name} (run dir {result.run_dir})"
        assert err[1] == (
            "note: images are ignored locally (alpine:3.20): commands run on this machine, "
            "python with this interpreter"
        )
        assert err[2:4] == ["▶ a", "✔ a (T)"]
        assert sorted(err[4:8]) == ["▶ b", "▶ c", "✔ b (T)", "✔ c (T)"]
        assert err[8:] == ["▶ d", "✔ d (T)", f"Succeeded in T ({result.run_dir})"]

    def test_failure(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The failing node, its message and the tail of its stderr are shown."""
        result = run_manifest(load("depends.yaml"), runs_root=tmp_path, progress="plain")
        err = lines(capsys.readouterr().err)
        assert "✘ a failed: Error (exit code 3)" in err
        assert "○ plain omitted (omitted: depends condition not met)" in err
        stderr = result.node("a").stderr
        assert err[-4:] == [
            f"Failed: task 'a' failed (T, {result.run_dir})",
            "           a (pod) failed: Error (exit code 3)",
            f"             last lines of {stderr}:",
            "             | boom",
        ]

    def test_fan_out_is_summarised(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Loop items are counted on their loop's line, not listed one by one."""
        run_manifest(load("loops.yaml"), runs_root=tmp_path, progress="plain")
        err = lines(capsys.readouterr().err)
        assert "▶ scalars: 0/3" in err
        assert "… scalars: 2/3" in err
        assert "✔ scalars (T)" in err
        assert not [line for line in err if "scalars(" in line]

    def test_retries_are_shown(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A failed attempt that will be retried says so, and the final count is given."""
        run_manifest(load("retry.yaml"), runs_root=tmp_path, progress="plain")
        err = lines(capsys.readouterr().err)
        assert "↻ flaky attempt 1 failed: Error (exit code 1); retrying" in err
        assert (
            "✘ hopeless failed after 2 attempts: Error (exit code 7) (No more retries left)" in err
        )


class TestNotes:
    def test_local_emulation_is_said_once(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Where secrets, volumes and memoized outputs come from locally is noted at the start."""
        monkeypatch.setenv("FLOWDSL_SECRET_S_K", "value-1")
        manifest = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"name": "notes"},
            "spec": {
                "entrypoint": "t",
                "volumes": [{"name": "data", "emptyDir": {}}],
                "templates": [
                    {
                        "name": "t",
                        "memoize": {
                            "key": "k",
                            "maxAge": "1h",
                            "cache": {"configMap": {"name": "c"}},
                        },
                        "container": {
                            "image": "alpine",
                            "command": ["true"],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            "env": [
                                {
                                    "name": "TOKEN",
                                    "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}},
                                }
                            ],
                        },
                    }
                ],
            },
        }
        run_manifest(manifest, runs_root=tmp_path / "runs", progress="plain")
        err = lines(capsys.readouterr().err)
        assert err[2:5] == [
            "note: Secret and ConfigMap values read locally: TOKEN (FLOWDSL_SECRET_S_K from the "
            "environment); secret values are masked in logs and records",
            "note: volumes are local directories: claims under <run dir>/volumes/ shared by the "
            "run, emptyDir fresh per attempt, Secrets and ConfigMaps as files (readOnly not "
            "enforced)",
            f"note: memoized outputs are kept in {tmp_path / 'cache'} between local runs",
        ]


class TestLive:
    def test_renders(self, tmp_path: Path) -> None:
        """The live view draws a row per task and a bar per fan-out, then the outcome."""
        stream = io.StringIO()
        reporter = LiveReporter(stream)
        from flowdsl.local import engine as eng
        from flowdsl.local import manifest as man

        spec = man.read_spec(load("loops.yaml"))
        engine = eng.Engine(
            spec, {}, name="live-1", run_dir=tmp_path, reporter=reporter, max_parallel=2
        )
        result = engine.run()
        text = stream.getvalue()
        assert result.ok
        assert "run live-1" in text
        assert "scalars" in text
        assert "succeeded 3/3" in text
        assert "✔ Succeeded" in text

    def test_failure(self, tmp_path: Path) -> None:
        """On failure the live view ends with the failure report."""
        stream = io.StringIO()
        from flowdsl.local import engine as eng
        from flowdsl.local import manifest as man

        spec = man.read_spec(load("depends.yaml"))
        engine = eng.Engine(
            spec, {}, name="live-2", run_dir=tmp_path, reporter=LiveReporter(stream), max_parallel=2
        )
        engine.run()
        text = stream.getvalue()
        assert "✘ Failed: task 'a' failed" in text
        assert "| boom" in text


class TestHelpers:
    def test_make_reporter(self) -> None:
        """off reports nothing; plain and auto (not a terminal) give lines; live gives rich."""
        stream = io.StringIO()
        assert type(make_reporter("off", stream)) is Reporter
        assert isinstance(make_reporter("plain", stream), PlainReporter)
        assert isinstance(make_reporter("auto", stream), PlainReporter)
        assert isinstance(make_reporter("live", stream), LiveReporter)

    def test_stderr_tail(self, tmp_path: Path) -> None:
        """The last non-blank lines of a file; nothing for a missing one."""
        path = tmp_path / "err"
        path.write_text("".join(f"line {i}\n\n" for i in range(20)))
        assert stderr_tail(path, 3) == ["line 17", "line 18", "line 19"]
        assert stderr_tail(tmp_path / "missing") == []
        assert stderr_tail(None) == []

    def test_failure_report(self, tmp_path: Path) -> None:
        """Each root-cause node with its attempts count and stderr tail."""
        result = run_manifest(load("retry.yaml"), runs_root=tmp_path, progress="off")
        report = failure_report(result)
        assert report[0] == "Failed: task 'wrong-policy' failed"
        assert (
            report[1] == "  hopeless (pod) failed after 2 attempts: Error (exit code 7) "
            "(No more retries left)"
        )
        assert report[3] == "    | nope"
        assert report[4] == "  wrong-policy (pod) failed: Error (exit code 1)"
