"""flowdsl.scheduling_commands: schedule, cron list, next, backfill (in process)."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argo_server import ArgoServer, serve

from flowdsl.errors import FlowDSLError
from flowdsl.scheduling_commands import register

SCRIPT = """
from flowdsl import flow, task
from flowdsl.scheduling import EventTrigger, Schedule, ScheduledTime


@task
def stamp(when: ScheduledTime, source: str) -> str:
    return when.isoformat() + "|" + source


@flow(
    image="python:3.11",
    schedule=Schedule(["0 3 * * *", "30 12 * * 6"], timezone="Europe/Paris", concurrency="Forbid"),
)
def nightly(run_at: ScheduledTime, source: str = "raw.csv") -> str:
    return stamp(run_at, source)


@flow(image="python:3.11", triggers=[EventTrigger("minio", "new-object", params={"source": "key"})])
def triggered(run_at: ScheduledTime, source: str = "raw.csv") -> str:
    return stamp(run_at, source)


@flow(image="python:3.11")
def plain(source: str = "raw.csv") -> str:
    return stamp(source=source, when=None)
"""


@pytest.fixture
def argo_server() -> Iterator[ArgoServer]:
    yield from serve()


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "flows.py"
    path.write_text(textwrap.dedent(SCRIPT))
    return path


def run(argv: list[str], flow: Any = None) -> int:
    parser = argparse.ArgumentParser(prog="flowdsl")
    commands = parser.add_subparsers(dest="command", required=True)
    register(commands, flow=flow)
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def server_flags(server: ArgoServer) -> list[str]:
    return ["--server", server.address, "--no-secure", "-n", "argo"]


class TestSchedule:
    """``schedule TARGET``: create or update, suspend, resume, delete."""

    def test_create_then_nothing_changes(
        self, argo_server: ArgoServer, target: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Idempotent: the second run reports everything unchanged."""
        flags = server_flags(argo_server)
        assert run(["schedule", f"{target}:nightly", *flags]) == 0
        assert capsys.readouterr().out == (
            "workflow template nightly: created\n"
            "cron workflow nightly: created\n"
            "  At 03:00 and at 12:30 on Saturday, Europe/Paris\n"
        )
        assert run(["schedule", f"{target}:nightly", *flags]) == 0
        assert capsys.readouterr().out == (
            "workflow template nightly: unchanged\n"
            "cron workflow nightly: unchanged\n"
            "  At 03:00 and at 12:30 on Saturday, Europe/Paris\n"
        )
        assert argo_server.updates == []

    def test_suspend_resume_delete(
        self, argo_server: ArgoServer, target: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The CronWorkflow's suspend flag, then its removal."""
        flags = server_flags(argo_server)
        run(["schedule", f"{target}:nightly", *flags])
        capsys.readouterr()
        assert run(["schedule", f"{target}:nightly", "--suspend", *flags]) == 0
        assert argo_server.state.crons[("argo", "nightly")]["spec"]["suspend"] is True
        assert run(["schedule", f"{target}:nightly", "--resume", *flags]) == 0
        assert argo_server.state.crons[("argo", "nightly")]["spec"]["suspend"] is False
        assert run(["schedule", f"{target}:nightly", "--delete", *flags]) == 0
        assert capsys.readouterr().out == (
            "cron workflow nightly: suspended in namespace argo\n"
            "cron workflow nightly: resumed in namespace argo\n"
            "cron workflow nightly: deleted\n"
        )
        assert ("argo", "nightly") not in argo_server.state.crons

    def test_triggers_make_a_sensor(
        self, argo_server: ArgoServer, target: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A triggered flow: its template and Sensor."""
        assert run(["schedule", f"{target}:triggered", *server_flags(argo_server)]) == 0
        assert capsys.readouterr().out == (
            "workflow template triggered: created\nsensor triggered: created\n"
        )
        assert ("argo", "triggered") in argo_server.state.sensors

    def test_dry_run_prints_the_documents(
        self, target: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Nothing is sent; the multi-document YAML is printed."""
        assert run(["schedule", f"{target}:nightly", "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "kind: WorkflowTemplate" in out
        assert "kind: CronWorkflow" in out

    def test_nothing_to_schedule(self, target: Path) -> None:
        """A flow without schedule and triggers; suspend without a schedule."""
        with pytest.raises(FlowDSLError, match="the flow has no schedule and no triggers"):
            run(["schedule", f"{target}:plain", "--dry-run"])
        with pytest.raises(FlowDSLError, match="the flow has no schedule"):
            run(["schedule", f"{target}:triggered", "--suspend", "--server", "x:1"])


class TestCronList:
    """``cron list``."""

    def test_lists_cron_workflows(
        self, argo_server: ArgoServer, target: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Header and one row per CronWorkflow."""
        flags = server_flags(argo_server)
        assert run(["cron", "list", *flags]) == 0
        assert capsys.readouterr().out == "no cron workflows in namespace argo\n"
        run(["schedule", f"{target}:nightly", *flags])
        capsys.readouterr()
        assert run(["cron", "list", *flags]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split() == ["NAME", "SCHEDULE", "LAST", "RUN", "NEXT", "RUN"]
        assert lines[1].startswith(
            "nightly  At 03:00 and at 12:30 on Saturday, Europe/Paris  never"
        )


class TestNext:
    """``next TARGET``: offline."""

    def test_next_runs(self, target: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """In the schedule's zone, from --after."""
        argv = ["next", f"{target}:nightly", "-n", "3", "--after", "2026-01-02T12:00"]
        assert run(argv) == 0
        assert capsys.readouterr().out == (
            "nightly: At 03:00 and at 12:30 on Saturday, Europe/Paris\n"
            "  2026-01-03 03:00 CET (Sat)\n"
            "  2026-01-03 12:30 CET (Sat)\n"
            "  2026-01-04 03:00 CET (Sun)\n"
        )

    def test_with_flow_main(self, target: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """With flow.main() the command takes no TARGET."""
        from flowdsl._target import load_flow

        nightly = load_flow(f"{target}:nightly")
        assert run(["next", "-n", "1", "--after", "2026-01-02T12:00"], flow=nightly) == 0
        assert capsys.readouterr().out.splitlines()[1] == "  2026-01-03 03:00 CET (Sat)"

    def test_no_schedule(self, target: Path) -> None:
        """A flow without schedule has no next runs."""
        with pytest.raises(FlowDSLError, match=r"flow 'plain'.*the flow has no schedule"):
            run(["next", f"{target}:plain"])


class TestBackfill:
    """``backfill TARGET --from --to``."""

    def test_dry_run_offline(
        self, target: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Dates include the whole day; without a server, existing runs are not shown."""
        monkeypatch.delenv("ARGO_SERVER", raising=False)
        monkeypatch.chdir(target.parent)
        argv = ["backfill", f"{target}:nightly", "--from", "2026-01-02", "--to", "2026-01-03"]
        assert run([*argv, "--dry-run"]) == 0
        assert capsys.readouterr().out == (
            "(no Argo Server configured: runs that already exist are not shown)\n"
            "backfill nightly: 3 scheduled times from 2026-01-02 03:00 CET to 2026-01-03 "
            "12:30 CET (concurrency Forbid: one run at a time)\n"
            "[1/3] 2026-01-02 03:00 CET  submit\n"
            "[2/3] 2026-01-03 03:00 CET  submit\n"
            "[3/3] 2026-01-03 12:30 CET  submit\n"
        )

    def test_runs_and_skips(
        self, argo_server: ArgoServer, target: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Against the server: a dry run marks what exists; the run submits the rest."""
        argo_server.put_workflow(
            {
                "metadata": {"name": "nightly-1767319200", "labels": {"flowdsl/flow": "nightly"}},
                "spec": {},
                "status": {"phase": "Succeeded"},
            }
        )
        argv = [
            "backfill",
            f"{target}:nightly",
            "--from",
            "2026-01-02",
            "--to",
            "2026-01-02T23:00",
            "--poll",
            "0",
            *server_flags(argo_server),
        ]
        assert run([*argv, "--dry-run"]) == 0
        assert capsys.readouterr().out.splitlines()[1:] == [
            "[1/1] 2026-01-02 03:00 CET  skip: nightly-1767319200 exists"
        ]
        assert run(argv) == 0
        assert capsys.readouterr().out.splitlines()[1:] == [
            "[1/1] 2026-01-02 03:00 CET  skipped: nightly-1767319200 exists",
            "backfill nightly: 0 submitted (0 succeeded, 0 did not), 1 skipped (already had a run)",
        ]

    def test_bad_range(self, target: Path) -> None:
        """End before start: the message shows the swap."""
        argv = ["backfill", f"{target}:nightly", "--from", "2026-01-31", "--to", "2026-01-01"]
        with pytest.raises(FlowDSLError) as info:
            run([*argv, "--dry-run"])
        assert info.value.fix == "swap them: --from 2026-01-01 --to 2026-01-31"
