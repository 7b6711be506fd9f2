"""A picture of a manifest's graph: Mermaid or Graphviz dot (and png/svg through ``dot``).

What is drawn, starting from the entrypoint:

- a DAG or steps template is a box (a Mermaid subgraph, a dot cluster) holding its tasks;
- a task is a node labelled with its name, and its template when that differs;
- a fan-out (``withItems``, ``withParam``, ``withSequence``) is a stacked node (Mermaid
  ``[[...]]``, dot ``box3d``) saying what it loops over;
- a condition (``when``) is written under the task's name, and the node is dashed;
- an edge runs from each dependency to its dependent; an edge whose ``depends`` asks for a
  particular result (``A.Failed``) is labelled with it;
- a task whose template is itself a DAG or steps template (a nested flow) is drawn as a
  box of its own, holding that template's tasks; a template that calls itself is drawn
  once, then as a ``↻`` node;
- steps: each group's steps point to the next group's;
- ``spec.onExit`` is a separate node after the entrypoint, with a dotted edge.

Output is deterministic (same manifest, same text).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowdsl.errors import RunError
from flowdsl.local.expr import ExpressionError, parse_depends

__all__ = ["Graph", "build", "render", "to_dot", "to_mermaid"]


@dataclass(slots=True)
class _Node:
    id: str
    label: str
    loop: bool = False
    conditional: bool = False


@dataclass(slots=True)
class _Cluster:
    id: str
    label: str
    items: list[_Node | _Cluster] = field(default_factory=list)


@dataclass(slots=True)
class Graph:
    """What is drawn: clusters of nodes, and edges between node or cluster ids."""

    root: _Cluster
    edges: list[tuple[str, str, str, bool]] = field(default_factory=list)  # from, to, label, dotted


def _templates_of(
    manifest: Mapping[str, Any],
) -> tuple[Mapping[str, Any], dict[str, Mapping[str, Any]]]:
    spec = manifest.get("spec") or {}
    if manifest.get("kind") == "CronWorkflow":
        spec = spec.get("workflowSpec") or {}
    templates = {
        str(t.get("name")): t for t in spec.get("templates") or [] if isinstance(t, Mapping)
    }
    return spec, templates


_TIMES = "\N{MULTIPLICATION SIGN}"


def _loop_text(call: Mapping[str, Any]) -> str | None:
    if call.get("withItems") is not None:
        items = call["withItems"]
        return f"{_TIMES} {len(items)} items" if isinstance(items, list) else f"{_TIMES} items"
    if call.get("withParam") is not None:
        return f"{_TIMES} each of {_short(str(call['withParam']))}"
    if call.get("withSequence") is not None:
        seq = call["withSequence"]
        if seq.get("count") is not None:
            return f"{_TIMES} {seq['count']}"
        return f"{_TIMES} {seq.get('start', 0)}..{seq.get('end', '?')}"
    return None


def _short(text: str, width: int = 48) -> str:
    text = re.sub(r"\{\{\s*(.*?)\s*\}\}", r"\1", text)
    return text if len(text) <= width else text[: width - 1] + "…"


class _Builder:
    def __init__(self, templates: Mapping[str, Mapping[str, Any]]) -> None:
        self.templates = templates
        self.counter = 0
        self.edges: list[tuple[str, str, str, bool]] = []

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def call(self, name: str, call: Mapping[str, Any], stack: tuple[str, ...]) -> _Node | _Cluster:
        """A task or step: a node, or a cluster when its template is a DAG/steps."""
        template_name = str(call.get("template") or "")
        template = call.get("inline") or self.templates.get(template_name) or {}
        label = name if not template_name or template_name == name else f"{name}: {template_name}"
        loop = _loop_text(call)
        when = call.get("when")
        extra = [text for text in (loop, f"when {_short(str(when))}" if when else None) if text]
        if (
            template.get("dag") is not None or template.get("steps") is not None
        ) and template_name not in stack:
            return self.template_cluster(
                template_name or name, template, stack, label=" · ".join([label, *extra])
            )
        if template_name in stack:
            label = f"↻ {label}"
        return _Node(
            self.new_id("n"),
            "\n".join([label, *extra]),
            loop=loop is not None,
            conditional=bool(when),
        )

    def template_cluster(
        self,
        name: str,
        template: Mapping[str, Any],
        stack: tuple[str, ...],
        label: str | None = None,
    ) -> _Cluster:
        cluster = _Cluster(self.new_id("c"), label or name)
        stack = (*stack, name)
        dag = template.get("dag")
        if dag is not None:
            tasks = [t for t in dag.get("tasks") or [] if isinstance(t, Mapping)]
            ids: dict[str, str] = {}
            for task in tasks:
                item = self.call(str(task.get("name")), task, stack)
                cluster.items.append(item)
                ids[str(task.get("name"))] = item.id
            continue_on = {str(t.get("name")): t.get("continueOn") or {} for t in tasks}
            for task in tasks:
                self.dag_edges(task, ids, continue_on)
            return cluster
        previous: list[str] = []
        for index, group in enumerate(template.get("steps") or []):
            current = []
            for step in group or []:
                item = self.call(str(step.get("name")), step, stack)
                cluster.items.append(item)
                current.append(item.id)
            del index
            for source in previous:
                for target in current:
                    self.edges.append((source, target, "", False))
            if current:
                previous = current
        return cluster

    def dag_edges(
        self, task: Mapping[str, Any], ids: Mapping[str, str], continue_on: Mapping[str, Any]
    ) -> None:
        target = ids[str(task.get("name"))]
        depends = task.get("depends")
        if depends:
            try:
                parsed = parse_depends(str(depends), continue_on)
            except ExpressionError:
                return
            explicit: dict[str, list[str]] = {}
            for match in re.finditer(
                r"([a-zA-Z0-9][-a-zA-Z0-9_]*)\.([A-Z][A-Za-z]+)", str(depends)
            ):
                explicit.setdefault(match.group(1), []).append(match.group(2))
            negated = "!" in str(depends)
            for dep in parsed.tasks:
                if dep not in ids:
                    continue
                label = " | ".join(dict.fromkeys(explicit.get(dep, [])))
                if negated and label:
                    label = f"({label})"
                self.edges.append((ids[dep], target, label, False))
            return
        for dep in task.get("dependencies") or []:
            if str(dep) in ids:
                self.edges.append((ids[str(dep)], target, "", False))


def build(manifest: Mapping[str, Any]) -> Graph:
    """The graph of a manifest, from its entrypoint.

    Raises:
        RunError: the manifest has no entrypoint, or it names no template.
    """
    spec, templates = _templates_of(manifest)
    entrypoint = spec.get("entrypoint")
    if not entrypoint or entrypoint not in templates:
        raise RunError(
            f"cannot draw the manifest: its entrypoint {entrypoint!r} is not one of its templates",
            fix="set spec.entrypoint to a template of the manifest",
        )
    builder = _Builder(templates)
    metadata = manifest.get("metadata") or {}
    title = str(
        metadata.get("name") or str(metadata.get("generateName") or "").rstrip("-") or entrypoint
    )
    root = _Cluster("root", title)
    main = builder.call(str(entrypoint), {"template": entrypoint}, ())
    root.items.append(main)
    on_exit = spec.get("onExit")
    if on_exit:
        exit_node = _Node(builder.new_id("n"), f"onExit: {on_exit}")
        root.items.append(exit_node)
        builder.edges.append((main.id, exit_node.id, "always", True))
    return Graph(root=root, edges=builder.edges)


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def to_mermaid(manifest: Mapping[str, Any]) -> str:
    """The manifest's graph as a Mermaid flowchart."""
    graph = build(manifest)
    lines = ["flowchart TD"]

    def emit(item: _Node | _Cluster, depth: int) -> None:
        pad = "  " * depth
        if isinstance(item, _Cluster):
            lines.append(f'{pad}subgraph {item.id}["{_mermaid_text(item.label)}"]')
            for sub in item.items:
                emit(sub, depth + 1)
            lines.append(f"{pad}end")
            return
        text = _mermaid_text(item.label)
        if item.loop:
            lines.append(f'{pad}{item.id}[["{text}"]]')
        elif item.conditional:
            lines.append(f'{pad}{item.id}{{{{"{text}"}}}}')
        else:
            lines.append(f'{pad}{item.id}["{text}"]')

    for item in graph.root.items:
        emit(item, 1)
    for source, target, label, dotted in graph.edges:
        arrow = "-.->" if dotted else "-->"
        if label:
            lines.append(f'  {source} {arrow}|"{_mermaid_text(label)}"| {target}')
        else:
            lines.append(f"  {source} {arrow} {target}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_dot(manifest: Mapping[str, Any]) -> str:
    """The manifest's graph in Graphviz's dot language."""
    graph = build(manifest)
    lines = [
        "digraph workflow {",
        "  compound=true;",
        "  rankdir=TB;",
        '  graph [fontname="Helvetica"];',
        '  node [shape=box, style="rounded", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    first_item = graph.root.items[0] if graph.root.items else None
    if not (isinstance(first_item, _Cluster) and first_item.label == graph.root.label):
        lines.append(f'  label="{_dot_text(graph.root.label)}";')
    # An edge into a box points at its first node, an edge out of it leaves from its last
    # one (clipped at the box's border), so dot ranks what follows a box below all of it.
    heads: dict[str, str] = {}
    tails: dict[str, str] = {}

    def leaves(cluster: _Cluster) -> list[str]:
        found: list[str] = []
        for item in cluster.items:
            found.extend([item.id] if isinstance(item, _Node) else leaves(item))
        return found

    def emit(item: _Node | _Cluster, depth: int) -> None:
        pad = "  " * depth
        if isinstance(item, _Cluster):
            lines.append(f"{pad}subgraph cluster_{item.id} {{")
            lines.append(f'{pad}  label="{_dot_text(item.label)}";')
            lines.append(f'{pad}  style="rounded,dashed";')
            inside = leaves(item)
            if not inside:
                inside = [f"{item.id}_empty"]
                lines.append(f'{pad}  {inside[0]} [label="(empty)", shape=plaintext];')
            heads[item.id] = inside[0]
            tails[item.id] = inside[-1]
            for sub in item.items:
                emit(sub, depth + 1)
            lines.append(f"{pad}}}")
            return
        attrs = [f'label="{_dot_text(item.label)}"']
        if item.loop:
            attrs.append("shape=box3d")
        if item.conditional:
            attrs.append('style="rounded,dashed"')
        lines.append(f"{pad}{item.id} [{', '.join(attrs)}];")

    for item in graph.root.items:
        emit(item, 1)
    for source, target, label, dotted in graph.edges:
        attrs = []
        if source in tails:
            attrs.append(f"ltail=cluster_{source}")
        if target in heads:
            attrs.append(f"lhead=cluster_{target}")
        if label:
            attrs.append(f'label="{_dot_text(label)}"')
        if dotted:
            attrs.append("style=dotted")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {tails.get(source, source)} -> {heads.get(target, target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(manifest: Mapping[str, Any], fmt: str) -> str | bytes:
    """The picture in ``fmt``: ``mermaid`` or ``dot`` (text), ``png`` or ``svg`` (via dot).

    Raises:
        RunError: an unknown format, or png/svg without Graphviz installed.
    """
    if fmt == "mermaid":
        return to_mermaid(manifest)
    if fmt == "dot":
        return to_dot(manifest)
    if fmt not in ("png", "svg"):
        raise RunError(
            f"unknown graph format {fmt!r} (expected mermaid, dot, png or svg)",
            fix="pick one of those",
        )
    dot = shutil.which("dot")
    if dot is None:
        raise RunError(
            f"--format {fmt} needs Graphviz's 'dot' program, which is not installed",
            fix="install Graphviz (e.g. apt-get install graphviz), or use --format mermaid or dot",
        )
    done = subprocess.run(
        [dot, f"-T{fmt}"], input=to_dot(manifest).encode("utf-8"), capture_output=True, check=False
    )
    if done.returncode != 0:
        raise RunError(
            f"Graphviz's dot failed: {done.stderr.decode('utf-8', errors='replace').strip()}",
            fix="report this with the manifest",
        )
    return done.stdout if fmt == "png" else done.stdout.decode("utf-8")
