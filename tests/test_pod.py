"""A compiled template's command, run as a pod would run it: the manifest and the runtime agree.

Argo substitutes ``{{inputs.parameters.x}}`` in the container's args, writes a script
template's ``source`` to a file whose path it appends to the args, runs the command, and reads
each output parameter from its ``valueFrom.path``. These tests do exactly that (with the
output directory moved under a temporary directory and ``python`` meaning this interpreter),
in a working directory where the user's module is not importable.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from flowdsl import compile_dict
from flowdsl._target import load_flow
from flowdsl.lower import OUTPUTS_DIR

from argo_oracle import templates_as_run
from conftest import ROOT


def run_like_a_pod(
    template: dict[str, Any], inputs: dict[str, str], pod: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``template``'s command with ``inputs`` substituted; outputs land under ``pod``."""
    body = template.get("container") or template["script"]
    outputs_dir = pod / "outputs"

    def substitute(arg: str) -> str:
        arg = re.sub(r"\{\{inputs\.parameters\.([-\w]+)\}\}", lambda m: inputs[m.group(1)], arg)
        return arg.replace(OUTPUTS_DIR, str(outputs_dir))

    args = [substitute(a) for a in body.get("args", [])]
    if "script" in template:
        script = pod / "script"
        script.write_text(body["source"])
        args.append(str(script))
    command = [sys.executable if c == "python" else c for c in body["command"]]
    return subprocess.run(
        [*command, *args],
        cwd=pod,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def outputs_of(template: dict[str, Any], pod: Path) -> dict[str, str]:
    """Each declared output parameter, read from its valueFrom.path (moved under ``pod``)."""
    values = {}
    for param in template["outputs"]["parameters"]:
        path = param["valueFrom"]["path"].replace(OUTPUTS_DIR, str(pod / "outputs"))
        values[param["name"]] = Path(path).read_text().removesuffix("\n")  # as Argo trims
    return values


def templates(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The templates as each pod gets them (merged with spec.templateDefaults)."""
    return templates_as_run(doc)


class TestByValue:
    def test_quickstart_summarise(self, tmp_path: Path) -> None:
        """The by-value `summarise` template decodes JSON and enum inputs; a structured
        return is its stdout (Argo's result) plus one output file per field."""
        doc = compile_dict(load_flow(str(ROOT / "examples" / "quickstart.py")))
        template = templates(doc)["summarise"]
        result = run_like_a_pod(
            template, {"values": "[1.0,2.0,3.0,10.0]", "method": "median"}, tmp_path
        )
        assert result.returncode == 0, result.stderr
        outputs = outputs_of(template, tmp_path)
        assert json.loads(result.stdout) == {"count": 4, "centre": 2.5, "spread": 3.536}
        assert "return" not in outputs
        assert outputs["count"] == "4"
        assert outputs["centre"] == "2.5"

    def test_default_input_and_list_output(self, tmp_path: Path) -> None:
        """An input left to its template default still reaches the function."""
        doc = compile_dict(load_flow(str(ROOT / "examples" / "quickstart.py")))
        template = templates(doc)["sample"]
        defaults = {
            p["name"]: p["default"] for p in template["inputs"]["parameters"] if "default" in p
        }
        result = run_like_a_pod(template, {"size": "3", **defaults}, tmp_path)
        assert result.returncode == 0, result.stderr
        assert "outputs" not in template  # the return value is the result, nothing else
        values = json.loads(result.stdout)
        assert len(values) == 3
        assert all(isinstance(v, float) for v in values)

    def test_bad_input_names_the_parameter(self, tmp_path: Path) -> None:
        """An input that does not decode fails the pod with a message, not a traceback."""
        doc = compile_dict(load_flow(str(ROOT / "examples" / "quickstart.py")))
        template = templates(doc)["sample"]
        result = run_like_a_pod(template, {"size": "many", "seed": "7"}, tmp_path)
        assert result.returncode == 2
        assert "size" in result.stderr
        assert "expected int, got 'many'" in result.stderr
        assert "Traceback" not in result.stderr


class TestByImport:
    def test_import_template_runs_from_the_image(self, tmp_path: Path) -> None:
        """code='import' templates import module:function from the image's Python path."""
        project = tmp_path / "project"
        project.mkdir()
        (project / "shop.py").write_text(
            textwrap.dedent(
                """
                from flowdsl import flow, task

                @task
                def total(prices: list[float], vat: float = 0.2) -> float:
                    return round(sum(prices) * (1 + vat), 2)

                @flow(image="img", code="import")
                def checkout(vat: float = 0.2) -> float:
                    return total([1.0, 2.5], vat)
                """
            )
        )
        sys.path.insert(0, str(project))
        try:
            doc = compile_dict(load_flow(str(project / "shop.py")))
        finally:
            sys.path.remove(str(project))
            sys.modules.pop("shop", None)
        template = templates(doc)["total"]
        assert template["container"]["args"][0] == "shop:total"
        pod = tmp_path / "pod"
        pod.mkdir()
        result = run_like_a_pod(
            template, {"prices": "[1.0,2.5]", "vat": "0.5"}, pod, env={"PYTHONPATH": str(project)}
        )
        assert result.returncode == 0, result.stderr
        assert (result.stdout, "outputs" in template) == ("5.25\n", False)
