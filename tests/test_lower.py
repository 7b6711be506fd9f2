"""Lowering: the manifests flowdsl emits, checked against Argo's schema and rules."""

from __future__ import annotations

import enum
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

import pytest

from flowdsl import Param, compile, compile_dict, flow, task, to_json, to_yaml
from flowdsl.errors import CompileError, ParameterError

from argo_oracle import assert_valid_argo, templates_as_run


@dataclass
class Stats:
    rows: int
    mean: float


class Region(enum.Enum):
    EU = "eu"
    US = "us"


@task
def load(day: date, region: Region, limit: int = 10) -> list[float]:
    return [float(i) for i in range(limit)]


@task(retries=2, timeout="10m")
def stats(values: list[float]) -> Stats:
    return Stats(len(values), sum(values) / max(len(values), 1))


@task
def publish(mean: float, dry_run: bool) -> None:
    print(mean, dry_run)


@flow(image="ghcr.io/acme/etl:2")
def etl(
    day: date = date(2026, 1, 1),
    region: Region = Region.EU,
    dry_run: Annotated[bool, Param(description="print instead of publishing")] = True,
    note: str | None = None,
) -> Stats:
    """Daily ETL.

    Args:
        day: the day to process.
    """
    values = load(day, region)
    s = stats(values)
    publish(s.mean, dry_run)
    publish.options(retries=1)(s.mean, True)
    return s


def templates(doc: dict) -> dict[str, dict]:
    """The templates as each pod gets them (merged with spec.templateDefaults)."""
    return templates_as_run(doc)


class TestWorkflowShape:
    def test_valid_against_argo(self) -> None:
        """Workflow and WorkflowTemplate pass the strict schema and the lint."""
        assert_valid_argo(compile_dict(etl))
        assert_valid_argo(compile_dict(etl, kind="template"))

    def test_parameters_are_typed(self) -> None:
        """Enums for bool/Enum, types in descriptions, defaults as values, None as null."""
        params = compile_dict(etl)["spec"]["arguments"]["parameters"]
        assert params == [
            {"name": "day", "description": "the day to process (date)", "value": "2026-01-01"},
            {"name": "region", "description": "Region", "enum": ["eu", "us"], "value": "eu"},
            {
                "name": "dry_run",
                "description": "print instead of publishing (bool)",
                "enum": ["true", "false"],
                "value": "true",
            },
            {"name": "note", "description": "Optional[str]", "value": "null"},
        ]

    def test_one_template_per_task_and_options(self) -> None:
        """Two calls with the same options share a template; other options get their own."""
        doc = compile_dict(etl)
        assert list(templates(doc)) == ["etl", "load", "stats", "publish", "publish-2"]
        tasks = templates(doc)["etl"]["dag"]["tasks"]
        assert [(t["name"], t["template"]) for t in tasks] == [
            ("load", "load"),
            ("stats", "stats"),
            ("publish", "publish"),
            ("publish-2", "publish-2"),
        ]
        assert templates(doc)["publish-2"]["retryStrategy"] == {"limit": 1}

    def test_arguments_and_dependencies(self) -> None:
        """Arguments reference workflow parameters and task outputs; depends follows data."""
        tasks = {t["name"]: t for t in templates(compile_dict(etl))["etl"]["dag"]["tasks"]}
        assert tasks["load"]["arguments"]["parameters"] == [
            {"name": "day", "value": "{{workflow.parameters.day}}"},
            {"name": "region", "value": "{{workflow.parameters.region}}"},
        ]
        assert "depends" not in tasks["load"]
        assert tasks["stats"]["depends"] == "load"
        assert tasks["publish-2"]["arguments"]["parameters"] == [
            {"name": "mean", "value": "{{tasks.stats.outputs.parameters.mean}}"},
            {"name": "dry_run", "value": "true"},
        ]

    def test_leaf_template(self) -> None:
        """Inputs with defaults, field outputs from runtime files (the whole return value is
        the result: stdout), options on the template."""
        t = templates(compile_dict(etl))["stats"]
        assert t["inputs"] == {"parameters": [{"name": "values"}]}
        assert t["outputs"]["parameters"] == [
            {"name": n, "valueFrom": {"path": f"/tmp/flowdsl/outputs/{n}"}}
            for n in ("rows", "mean")
        ]
        assert t["script"]["args"][:2] == ["--outputs", "/tmp/flowdsl/outputs"]
        assert t["retryStrategy"] == {"limit": 2}
        assert t["activeDeadlineSeconds"] == 600
        load_t = templates(compile_dict(etl))["load"]
        assert load_t["inputs"]["parameters"][2] == {"name": "limit", "default": "10"}

    def test_flow_outputs(self) -> None:
        """The DAG template exposes the flow's result."""
        outputs = templates(compile_dict(etl))["etl"]["outputs"]["parameters"]
        assert outputs[0] == {
            "name": "return",
            "valueFrom": {"parameter": "{{tasks.stats.outputs.result}}"},
        }

    def test_metadata(self) -> None:
        """generateName for a Workflow, name for a template, the flow label, the description."""
        wf = compile_dict(etl)
        assert wf["metadata"] == {
            "annotations": {"workflows.argoproj.io/description": "Daily ETL."},
            "generateName": "etl-",
            "labels": {"flowdsl/flow": "etl"},
        }
        assert compile_dict(etl, kind="template")["metadata"]["name"] == "etl"

    def test_params_override_defaults(self) -> None:
        """Given values are encoded by type."""
        doc = compile_dict(etl, params={"region": Region.US, "day": date(2026, 5, 4)})
        values = {p["name"]: p["value"] for p in doc["spec"]["arguments"]["parameters"]}
        assert values["region"] == "us"
        assert values["day"] == "2026-05-04"

    def test_compile_returns_hera_model(self) -> None:
        """flowdsl.compile gives Hera's Workflow model; to_yaml/to_json turn it into text."""
        from hera.workflows import models as m

        model = compile(etl)
        assert isinstance(model, m.Workflow)
        assert to_yaml(model) == to_yaml(compile_dict(etl))
        assert to_json(model).startswith('{\n  "apiVersion": "argoproj.io/v1alpha1"')


class TestCode:
    def test_by_value_for_modules_not_installed(self) -> None:
        """Tasks of this (uninstalled) test module travel by value in a script template."""
        t = templates(compile_dict(etl))["load"]
        assert "container" not in t
        assert t["script"]["command"] == ["python", "-m", "flowdsl.runtime"]
        assert t["script"]["args"][-1] == "--payload"
        assert t["script"]["source"].startswith("# flowdsl task payload v1\n")

    def test_by_import(self) -> None:
        """code='import' references module:function in a container template; a task with no
        output files gets no --outputs."""

        @flow(image="img", code="import")
        def f() -> None:
            publish(1.0, False)

        t = templates(compile_dict(f))["publish"]
        assert t["container"]["args"][:1] == ["test_lower:publish"]
        assert t["container"]["args"][1:] == [
            "mean={{inputs.parameters.mean}}",
            "dry_run={{inputs.parameters.dry_run}}",
        ]

    def test_import_of_a_local_function_is_refused(self) -> None:
        """A function defined inside a function cannot be imported in the pod."""

        @task
        def inner() -> None: ...

        @flow(image="img", code="import")
        def f() -> None:
            inner()

        with pytest.raises(CompileError) as excinfo:
            compile_dict(f)
        assert (
            "code='import' needs the task function to be importable by name, but it is "
            "defined inside a function (TestCode.test_import_of_a_local_function_is_refused."
            "<locals>.inner)" in str(excinfo.value)
        )

    def test_deterministic_across_processes(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """Two fresh processes compile the same example to the same bytes."""
        outputs = []
        for i in range(2):
            out = tmp_path / f"{i}.yaml"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "flowdsl",
                    "compile",
                    "examples/quickstart.py",
                    "-o",
                    str(out),
                ],
                check=True,
            )
            outputs.append(out.read_bytes())
        assert outputs[0] == outputs[1]


class TestCompileErrors:
    def test_required_parameter_for_a_workflow(self) -> None:
        """A Workflow needs every parameter; the message gives three ways out."""

        @flow(image="img")
        def f(source: str) -> None:
            publish(1.0, False)

        with pytest.raises(CompileError) as excinfo:
            compile_dict(f)
        assert str(excinfo.value) == (
            "flow 'f', parameter 'source': parameter 'source' has no default and no value was "
            "given; a Workflow runs as soon as it is submitted, so every parameter needs a "
            "value; pass it (-p source=... or params={'source': ...}), give it a default, or "
            "compile --kind template (a WorkflowTemplate asks for it at submit time)"
        )
        doc = compile_dict(f, kind="template")
        assert doc["spec"]["arguments"]["parameters"] == [{"name": "source", "description": "str"}]
        assert_valid_argo(doc)
        assert (
            compile_dict(f, params={"source": "s3://x"})["spec"]["arguments"]["parameters"][0][
                "value"
            ]
            == "s3://x"
        )

    def test_no_image(self) -> None:
        """A task with no image anywhere is a compile error naming the task."""

        @flow
        def f() -> None:
            publish(1.0, False)

        with pytest.raises(
            CompileError,
            match=r"flow 'f', task 'publish' \(tests/test_lower.py:"
            r"\d+\): no container image is set",
        ):
            compile_dict(f)

    def test_unknown_and_ill_typed_params(self) -> None:
        """params= names and values are checked."""
        with pytest.raises(
            ParameterError,
            match=r"flow 'etl', parameter 'days': the flow has "
            r"no parameter 'days' \(parameters: day, dry_run, note, region\)",
        ):
            compile_dict(etl, params={"days": 1})
        with pytest.raises(ParameterError, match=r"flow 'etl', parameter 'dry_run': "):
            compile_dict(etl, params={"dry_run": "yes"})

    def test_not_a_flow(self) -> None:
        """compile() of a task says to pass a flow."""
        with pytest.raises(CompileError, match=r"flowdsl.compile takes a @flow"):
            compile_dict(publish)  # type: ignore[arg-type]


class TestYaml:
    def test_yaml_round_trips_and_quotes_traps(self) -> None:
        """YAML 1.1 traps are quoted; the text loads back to the same data."""
        import yaml

        from flowdsl.emit import to_yaml as emit_yaml

        doc = {"a": ["y", "n", "yes", "on", "2026-01-01", "1e3", "null", "x\ny\n"]}
        text = emit_yaml(doc)
        assert yaml.safe_load(text) == doc
        assert "- 'y'" in text
        assert "- 'n'" in text
        assert "- |" in text

    def test_literal_with_yaml_trap_values(self) -> None:
        """An enum of yes/no survives YAML as strings."""

        @task
        def t(answer: Literal["yes", "no", "y"]) -> None: ...

        @flow(image="img")
        def f(answer: Literal["yes", "no", "y"] = "y") -> None:
            t(answer)

        import yaml

        loaded = yaml.safe_load(to_yaml(compile_dict(f)))
        assert loaded["spec"]["arguments"]["parameters"][0]["enum"] == ["yes", "no", "y"]
