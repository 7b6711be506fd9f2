"""The benchmarks compare like with like: flowdsl's and Hera's manifests of each workload
are the same workflow (tasks, dependencies, arguments, loop items, Argo settings).

No timing here (tests never assert wall-clock times); this only keeps the comparison
honest as either side changes.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from argo_oracle import templates_as_run
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_compile as bench


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("bench_modules")
    bench.write_modules(directory, [4])
    sys.path.insert(0, str(directory))
    yield directory
    sys.path.remove(str(directory))


def manifest(tool: str, workload: str, n: int) -> dict[str, Any]:
    prefix = bench.module_prefix(tool)
    if workload == "distinct":
        module = importlib.import_module(f"{prefix}_distinct_{n}")
        tasks = [getattr(module, f"step_{i}") for i in range(n)]
    else:
        module = importlib.import_module(f"{prefix}_shared")
        tasks = [module.step] * n
    items = bench.map_items(workload, n) if workload.startswith("map") else []
    if tool == "flowdsl":
        flow = (
            bench.flowdsl_map(module.square, module.total, items)
            if items
            else bench.flowdsl_chain(tasks, module.done)
        )
        text = bench.flowdsl_compile(flow)
    elif items:
        text = bench.hera_map(module.square, module.total, items, tool == "hera-same").to_yaml()
    else:
        text = bench.hera_chain(tasks, module.done, tool == "hera-same").to_yaml()
    return yaml.safe_load(text)  # type: ignore[no-any-return]


def shape(doc: dict[str, Any]) -> dict[str, Any]:
    """What makes two manifests the same workflow, whoever wrote them."""
    entry = next(t for t in doc["spec"]["templates"] if t["name"] == doc["spec"]["entrypoint"])
    tasks = {}
    for task in entry["dag"]["tasks"]:
        if "withSequence" in task:
            sequence = task["withSequence"]
            start, end = int(sequence["start"]), int(sequence["end"])
            step = 1 if end >= start else -1
            items = [str(i) for i in range(start, end + step, step)]
        else:
            items = [str(i) for i in task.get("withItems", [])]
        arguments = (task.get("arguments") or {}).get("parameters") or []
        tasks[task["name"]] = {
            "depends": task.get("depends"),
            "arguments": {p["name"]: p["value"] for p in arguments},
            "items": items,
        }
    parameters = (doc["spec"].get("arguments") or {}).get("parameters") or []
    return {"tasks": tasks, "parameters": {p["name"]: p.get("value") for p in parameters}}


def settings(doc: dict[str, Any]) -> dict[str, Any]:
    """The Argo settings hera-same copies from flowdsl's defaults."""
    spec = doc["spec"]
    leaves = [
        t.get("container") or t.get("script")
        for t in templates_as_run(doc).values()
        if "container" in t or "script" in t
    ]
    steps = [
        t.get("activeDeadlineSeconds") for t in templates_as_run(doc).values() if "dag" not in t
    ]
    return {
        "podGC": spec.get("podGC"),
        "deadline": spec.get("activeDeadlineSeconds"),
        "label": doc["metadata"].get("labels"),
        "steps": sorted({int(s) for s in steps}),
        "pull": sorted({leaf.get("imagePullPolicy") for leaf in leaves}),
        "resources": [leaf.get("resources") for leaf in leaves],
    }


@pytest.mark.parametrize("workload", ["chain", "distinct", "map", "map-spread"])
def test_same_workflow_both_ways(modules: Path, workload: str) -> None:
    mine = manifest("flowdsl", workload, 4)
    assert shape(mine) == shape(manifest("hera", workload, 4))
    same = manifest("hera-same", workload, 4)
    assert shape(mine) == shape(same)
    assert settings(mine) == settings(same)


def test_the_range_map_is_a_sequence_and_the_spread_one_items(modules: Path) -> None:
    """What the two map rows stand for."""
    fan = manifest("flowdsl", "map", 4)["spec"]["templates"][0]["dag"]["tasks"][0]
    assert fan["withSequence"] == {"start": "0", "end": "3"}
    spread = manifest("flowdsl", "map-spread", 4)["spec"]["templates"][0]["dag"]["tasks"][0]
    assert spread["withItems"] == [0, 2, 4, 6]
