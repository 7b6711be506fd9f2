"""Running flows locally from Python: flowdsl.run, calling a flow, typed results."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import flowdsl
from flowdsl import flow, task
from flowdsl.errors import ParameterError, RunError

from conftest import ROOT

sys.path.insert(0, str(ROOT / "examples"))
import parallel_branches
import quickstart


@task
def half(n: int) -> float:
    if n < 0:
        raise ValueError(f"negative: {n}")
    return n / 2


@task
def describe(x: float, label: str = "x") -> str:
    return f"{label}={x}"


@flow  # no image: local runs do not need one
def halves(n: int = 4) -> str:
    return describe(half(n))


class TestRunFromPython:
    def test_flowdsl_run_returns_typed_results(self, tmp_path: Path) -> None:
        """flowdsl.run gives status, typed result, per-task outputs, timings, run dir."""
        run = flowdsl.run(
            quickstart.quickstart, params={"size": 40}, progress="off", run_dir=tmp_path / "r"
        )
        assert run.status == "Succeeded"
        assert isinstance(run.result, quickstart.Summary)
        assert run.result.count <= 40
        assert list(run.tasks) == ["sample", "clean", "summarise"]
        assert len(run.tasks["sample"].outputs["return"]) == 40
        assert run.tasks["summarise"].outputs["count"] == run.result.count
        assert run.tasks["clean"].attempts == 1
        assert run.run_dir == tmp_path / "r"
        assert (tmp_path / "r" / "run.json").exists()
        assert run.duration > 0

    def test_calling_a_flow_runs_it(self, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """flow(...) runs locally and returns the typed result, like calling the tasks."""
        monkeypatch.chdir(tmp_path)
        expected = parallel_branches.combine(
            parallel_branches.fetch_prices("XY", 3), parallel_branches.fetch_volumes("XY", 3)
        )
        assert parallel_branches.parallel_branches(symbol="XY", days=3) == expected
        assert halves(5) == "x=2.5"

    def test_failure_raises_with_the_failing_task(self, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """A failing task makes the call raise RunError naming the node."""
        monkeypatch.chdir(tmp_path)
        with pytest.raises(RunError) as excinfo:
            halves(-1)
        message = str(excinfo.value)
        assert message.startswith("flow 'halves': the run ended Failed: node 'half' Failed")
        run = flowdsl.run(halves, params={"n": -1}, progress="off")
        assert run.status == "Failed"
        assert run.tasks["half"].phase == "Failed"
        assert "describe" not in run.tasks or run.tasks["describe"].phase != "Succeeded"
        stderr = run.tasks["half"].node.stderr
        assert stderr is not None
        assert "ValueError: negative: -1" in stderr.read_text()

    def test_bad_arguments(self) -> None:
        """A call with unknown arguments or ill-typed values fails before running."""
        with pytest.raises(
            ParameterError,
            match=r"flow 'halves': bad call: got an unexpected "
            r"keyword argument 'm'; call the flow with its parameters, e\.g\. "
            r"halves\(n=\.\.\.\)",
        ):
            halves(m=3)  # type: ignore[call-arg]
        with pytest.raises(ParameterError, match=r"flow 'halves', parameter 'n': expected int"):
            halves("3")  # type: ignore[arg-type]
