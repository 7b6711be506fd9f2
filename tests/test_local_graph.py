"""Pictures of a manifest's graph: Mermaid, dot, png/svg through Graphviz."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowdsl.errors import RunError
from flowdsl.local import graph

MANIFESTS = Path(__file__).parent / "data" / "manifests"


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((MANIFESTS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


class TestMermaid:
    def test_dag_with_conditions(self) -> None:
        """Tasks, their templates, dependency edges, result labels, when conditions."""
        assert graph.to_mermaid(load("depends-handled.yaml")) == (
            "flowchart TD\n"
            '  subgraph c1["main"]\n'
            '    n2["a: fail"]\n'
            '    n3["cleanup: ok"]\n'
            "  end\n"
            '  n2 -->|"Succeeded | Failed"| n3\n'
        )

    def test_fan_outs_and_when(self) -> None:
        """A loop is a stacked node saying what it loops over; a condition is a hexagon."""
        text = graph.to_mermaid(load("loops.yaml"))
        assert 'n2[["scalars: square<br/>\N{MULTIPLICATION SIGN} 3 items"]]' in text
        loop = "square-str<br/>\N{MULTIPLICATION SIGN} each of tasks.make-list.outputs.result"
        assert f'n5[["from-param: {loop}"]]' in text
        assert '[["sequence: square<br/>\N{MULTIPLICATION SIGN} 2"]]' in text
        when = graph.to_mermaid(load("when.yaml"))
        assert 'n4{{"heads: say<br/>when tasks.flip.outputs.result == heads"}}' in when

    def test_nested_flow_and_exit_handler(self) -> None:
        """A task running a DAG template is a box holding its tasks; onExit hangs after."""
        text = graph.to_mermaid(load("nested.yaml"))
        assert 'subgraph c2["one: inner"]' in text
        assert 'subgraph c4["many: inner · \N{MULTIPLICATION SIGN} 2 items"]' in text
        exit_text = graph.to_mermaid(load("exit-handler.yaml"))
        assert 'n3["onExit: report"]' in exit_text
        assert '  c1 -.->|"always"| n3' in exit_text

    def test_steps(self) -> None:
        """Each group's steps point to the next group's."""
        text = graph.to_mermaid(load("steps.yaml"))
        assert "  n2 --> n4\n  n2 --> n5\n  n2 --> n6\n  n3 --> n4\n" in text
        assert "  n6 --> n7\n" in text

    def test_deterministic(self) -> None:
        """The same manifest gives the same text."""
        assert graph.to_mermaid(load("nested.yaml")) == graph.to_mermaid(load("nested.yaml"))

    def test_recursion(self) -> None:
        """A template that calls itself is drawn once, then as a ↻ node."""
        manifest = {
            "metadata": {"name": "r"},
            "spec": {
                "entrypoint": "loop",
                "templates": [
                    {"name": "loop", "dag": {"tasks": [{"name": "again", "template": "loop"}]}}
                ],
            },
        }
        assert graph.to_mermaid(manifest) == (
            'flowchart TD\n  subgraph c1["loop"]\n    n2["↻ again: loop"]\n  end\n'
        )


class TestDot:
    def test_dot(self) -> None:
        """Clusters for templates, box3d for loops, dashed for conditions, labelled edges."""
        text = graph.to_dot(load("loops.yaml"))
        assert text.startswith("digraph workflow {\n")
        assert "subgraph cluster_c1 {" in text
        assert (
            'n2 [label="scalars: square\\n\N{MULTIPLICATION SIGN} 3 items", shape=box3d];' in text
        )
        assert (
            graph.to_dot(load("depends-handled.yaml")).count(
                'n2 -> n3 [label="Succeeded | Failed"];'
            )
            == 1
        )

    def test_edges_into_clusters(self) -> None:
        """An edge to a nested flow points at its box (lhead)."""
        text = graph.to_dot(load("exit-handler.yaml"))
        assert 'n2 -> n3 [ltail=cluster_c1, label="always", style=dotted];' in text


class TestImages:
    def test_without_graphviz(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """png/svg without dot installed is a clear error."""
        monkeypatch.setattr(shutil, "which", lambda name: None)
        with pytest.raises(RunError) as info:
            graph.render(load("loops.yaml"), "png")
        assert str(info.value) == (
            "--format png needs Graphviz's 'dot' program, which is not installed; install "
            "Graphviz (e.g. apt-get install graphviz), or use --format mermaid or dot"
        )

    @pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
    def test_svg_and_png(self) -> None:
        """With Graphviz, svg is text and png is an image."""
        svg = graph.render(load("nested.yaml"), "svg")
        assert isinstance(svg, str)
        assert "<svg" in svg
        png = graph.render(load("nested.yaml"), "png")
        assert isinstance(png, bytes)
        assert png.startswith(b"\x89PNG")

    def test_unknown_format(self) -> None:
        """Formats other than mermaid, dot, png, svg are refused."""
        with pytest.raises(RunError, match="unknown graph format 'gif'"):
            graph.render(load("loops.yaml"), "gif")

    def test_no_entrypoint(self) -> None:
        """A manifest whose entrypoint is not a template cannot be drawn."""
        with pytest.raises(RunError, match="its entrypoint 'x' is not one of its templates"):
            graph.render({"spec": {"entrypoint": "x", "templates": []}}, "dot")
