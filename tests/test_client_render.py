"""Text views: durations, get and list views, the live and plain watch views."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
from test_client_status import WF

from flowdsl.client.render import (
    LiveWatchView,
    PlainWatchView,
    format_duration,
    render_failures,
    render_list,
    render_workflow,
)
from flowdsl.client.status import WorkflowState

NOW = datetime(2024, 1, 1, 0, 1, 0, tzinfo=timezone.utc)


class TestDuration:
    @pytest.mark.parametrize(
        ("seconds", "text"),
        [(None, "-"), (0.4, "0.4s"), (3, "3s"), (59.6, "1m0s"), (75, "1m15s"), (3725, "1h2m5s")],
    )
    def test_format(self, seconds: float | None, text: str) -> None:
        """Durations read like Argo's."""
        assert format_duration(seconds) == text


class TestViews:
    def test_get_view(self) -> None:
        """The get view lists the summary and the steps (not the root node)."""
        text = render_workflow(WorkflowState.from_json(WF), url="http://u", now=NOW)
        assert text.startswith("Name:        wf\nNamespace:   argo\nPhase:       Failed\n")
        assert "URL:         http://u\n" in text
        assert "Parameters:  x=1, y=\n" in text
        assert "\ntrain(0)  Pod    Failed  2.5s      OOMKilled\n" in text
        assert "\nwf " not in text

    def test_list_view(self) -> None:
        """The list view has one row per workflow with its age."""
        text = render_list([WorkflowState.from_json(WF)], flow_label="flowdsl/flow", now=NOW)
        assert text.splitlines()[1].split() == ["wf", "Failed", "1m0s", "-", "-", "f"]

    def test_failures(self) -> None:
        """Failures name each failed node with its inputs and the next commands."""
        text = render_failures(WorkflowState.from_json(WF), hint_target=None)
        assert text.splitlines()[:4] == [
            "workflow wf Failed",
            "  ✖ train(0) (Failed): OOMKilled",
            "      inputs: lr=0.1",
            "      logs:   python -m flowdsl logs wf --task train",
        ]
        assert "python -m flowdsl debug wf --task train" in text

    def test_plain_watch_prints_changes_only(self) -> None:
        """The plain view prints a line per change and nothing for a repeated state."""
        out = io.StringIO()
        view = PlainWatchView(out)
        state = WorkflowState.from_json(WF)
        view.update(state)
        first = out.getvalue()
        view.update(state)
        view.close()
        assert out.getvalue() == first
        assert [line[10:] for line in first.splitlines()] == [
            "workflow wf  Failed",
            "train  Failed",
            "train(0)  Failed  OOMKilled",
            "train(1)  Failed",
        ]

    def test_live_watch_redraws_in_place(self) -> None:
        """The live view moves the cursor back over its last drawing before redrawing."""
        out = io.StringIO()
        view = LiveWatchView(out)
        state = WorkflowState.from_json(WF)
        view.update(state)
        assert "\x1b[" not in out.getvalue()
        lines = out.getvalue().count("\n")
        view.update(state)
        view.close()
        assert f"\x1b[{lines}F\x1b[J" in out.getvalue()
        assert "✖ train(0)" in out.getvalue()
