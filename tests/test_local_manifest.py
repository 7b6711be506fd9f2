"""Refusing what cannot run locally, before anything starts; workflow parameters."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from flowdsl.errors import RunError
from flowdsl.local import run_manifest
from flowdsl.local.manifest import read_spec, resolve_parameters

ECHO = {"name": "echo", "container": {"image": "alpine", "command": ["sh", "-c", "echo hi"]}}


def workflow(*templates: dict[str, Any], entrypoint: str = "echo", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "wf"},
        "spec": {"entrypoint": entrypoint, "templates": copy.deepcopy(list(templates)), **spec},
    }


def refused(manifest: dict[str, Any], tmp_path: Path) -> str:
    with pytest.raises(RunError) as info:
        run_manifest(manifest, runs_root=tmp_path / "runs", progress="off")
    # Nothing ran, nothing was recorded.
    assert not (tmp_path / "runs").exists()
    return str(info.value)


class TestRefusals:
    @pytest.mark.parametrize(
        ("template", "message"),
        [
            (
                {"name": "apply", "resource": {"action": "create", "manifest": "kind: ConfigMap"}},
                "flow 'wf': template 'apply': field 'resource' is not supported by the local "
                "engine (resource templates act on a Kubernetes cluster); run it on Argo "
                "instead, or remove the field",
            ),
            (
                {"name": "wait", "suspend": {"duration": "10s"}},
                "flow 'wf': template 'wait': field 'suspend' is not supported by the local engine "
                "(suspend templates wait for a person or a duration on the cluster); run it on "
                "Argo instead, or remove the field",
            ),
            (
                {
                    "name": "with-sidecar",
                    "container": {"image": "alpine", "command": ["true"]},
                    "sidecars": [{"name": "db", "image": "postgres"}],
                },
                "flow 'wf': template 'with-sidecar': field 'sidecars' is not supported by the "
                "local engine (sidecars run beside the main container in a pod); run it on Argo "
                "instead, or remove the field",
            ),
        ],
    )
    def test_unsupported_template_fields(
        self, tmp_path: Path, template: dict[str, Any], message: str
    ) -> None:
        """Each unsupported feature is refused up front, naming the template and the field."""
        manifest = workflow(ECHO, template, entrypoint="main")
        manifest["spec"]["templates"].append(
            {"name": "main", "dag": {"tasks": [{"name": "t", "template": template["name"]}]}}
        )
        assert refused(manifest, tmp_path) == message

    def test_retry_of_a_dag(self, tmp_path: Path) -> None:
        """A retryStrategy on a DAG template is refused rather than ignored."""
        manifest = workflow(
            ECHO,
            {
                "name": "main",
                "retryStrategy": {"limit": 2},
                "dag": {"tasks": [{"name": "t", "template": "echo"}]},
            },
            entrypoint="main",
        )
        assert refused(manifest, tmp_path) == (
            "flow 'wf': template 'main': field 'retryStrategy' is not supported by the local "
            "engine (retrying a whole dag template is not supported locally; put the "
            "retryStrategy on its container or script templates); run it on Argo instead, or "
            "remove the field"
        )

    def test_template_ref(self, tmp_path: Path) -> None:
        """A task using a template stored in the cluster is refused."""
        manifest = workflow(
            {
                "name": "main",
                "dag": {"tasks": [{"name": "t", "templateRef": {"name": "lib", "template": "x"}}]},
            },
            entrypoint="main",
        )
        assert refused(manifest, tmp_path) == (
            "flow 'wf': template 'main': field 'dag.tasks[0] ('t').templateRef' is not supported "
            "by the local engine (it refers to a template stored in the cluster); copy the "
            "template into spec.templates and refer to it by name"
        )

    def test_container_without_command(self, tmp_path: Path) -> None:
        """Without a command, only the image's entrypoint could run: refused."""
        manifest = workflow({"name": "echo", "container": {"image": "alpine"}})
        assert refused(manifest, tmp_path) == (
            "flow 'wf': template 'echo': container.command is empty (locally there is no image "
            "whose entrypoint could run); set container.command, e.g. [python] or [sh, -c]"
        )

    def test_kind(self, tmp_path: Path) -> None:
        """Only workflow kinds run."""
        manifest = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Sensor",
            "metadata": {"name": "s"},
        }
        with pytest.raises(RunError) as info:
            read_spec(manifest)
        assert str(info.value) == (
            "a Sensor cannot run locally (expected one of: Workflow, WorkflowTemplate, "
            "ClusterWorkflowTemplate, CronWorkflow); run a Workflow, WorkflowTemplate or "
            "CronWorkflow manifest"
        )

    def test_schema_failure(self, tmp_path: Path) -> None:
        """A manifest that fails Argo's strict schema is refused with the schema's words."""
        manifest = workflow(ECHO)
        manifest["spec"]["templates"][0]["container"]["comand"] = ["oops"]
        message = refused(manifest, tmp_path)
        assert message.startswith("flow 'wf': the manifest fails Argo's schema: ")
        assert "comand" in message

    def test_lint_failure(self, tmp_path: Path) -> None:
        """A manifest that breaks Argo's rules (an unresolvable tag) is refused by the lint."""
        manifest = workflow(
            {
                "name": "echo",
                "container": {
                    "image": "alpine",
                    "command": ["echo", "{{workflow.parameters.nope}}"],
                },
            }
        )
        message = refused(manifest, tmp_path)
        assert message.startswith("flow 'wf': the manifest fails Argo's rules: [")
        assert "workflow.parameters.nope" in message

    def test_unknown_dependency(self, tmp_path: Path) -> None:
        """A depends naming no task of the DAG is refused, listing the DAG's tasks."""
        manifest = workflow(
            ECHO,
            {"name": "main", "dag": {"tasks": [{"name": "a", "template": "echo", "depends": "b"}]}},
            entrypoint="main",
        )
        assert refused(manifest, tmp_path) == (
            "flow 'wf': template 'main', task 'a': depends on task 'b', which the DAG does not "
            "have (tasks: a); fix the task name"
        )

    def test_cycle(self) -> None:
        """A cycle is refused by the engine itself, naming the tasks on it."""
        manifest = workflow(
            ECHO,
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {"name": "a", "template": "echo", "depends": "b"},
                        {"name": "b", "template": "echo", "depends": "a"},
                        {"name": "c", "template": "echo"},
                    ]
                },
            },
            entrypoint="main",
        )
        with pytest.raises(RunError) as info:
            read_spec(manifest)
        assert str(info.value) == (
            "flow 'wf': template 'main': the DAG has a cycle through tasks a, b; remove one of "
            "the dependencies on the cycle"
        )

    def test_the_manifest_is_not_modified(self, tmp_path: Path) -> None:
        """The caller's manifest is left as it was (templateDefaults are merged into a copy)."""
        manifest = workflow(ECHO, templateDefaults={"activeDeadlineSeconds": 30})
        before = copy.deepcopy(manifest)
        run_manifest(manifest, runs_root=tmp_path, progress="off")
        assert manifest == before


class TestTemplateDefaults:
    def test_merged_into_templates(self) -> None:
        """templateDefaults fill what a template leaves out; the template wins."""
        manifest = workflow(
            {"name": "echo", "container": {"image": "alpine", "command": ["sh"], "env": []}},
            {"name": "main", "dag": {"tasks": [{"name": "t", "template": "echo"}]}},
            entrypoint="main",
            templateDefaults={
                "container": {"image": "busybox", "workingDir": "/w"},
                "timeout": "5s",
            },
        )
        spec = read_spec(manifest)
        assert spec.templates["echo"]["container"] == {
            "image": "alpine",
            "workingDir": "/w",
            "command": ["sh"],
            "env": [],
        }
        assert spec.templates["echo"]["timeout"] == "5s"
        assert "container" not in spec.templates["main"]


class TestParameters:
    def spec(self) -> Any:
        return read_spec(
            workflow(
                ECHO,
                arguments={
                    "parameters": [
                        {"name": "required"},
                        {"name": "mode", "value": "fast", "enum": ["fast", "slow"]},
                        {"name": "n", "value": 3},
                    ]
                },
            )
        )

    def test_values(self) -> None:
        """Given values override the manifest's; YAML numbers become text."""
        assert resolve_parameters(self.spec(), {"required": "x"}) == {
            "required": "x",
            "mode": "fast",
            "n": "3",
        }

    def test_missing_required(self) -> None:
        """A parameter with no value in the manifest must be given."""
        with pytest.raises(RunError) as info:
            resolve_parameters(self.spec(), {})
        assert str(info.value) == (
            "flow 'wf', parameter 'required': is required and has no value in the manifest; "
            "pass -p required=VALUE"
        )

    def test_unknown(self) -> None:
        """A name that is not a parameter is refused, listing the parameters."""
        with pytest.raises(RunError) as info:
            resolve_parameters(self.spec(), {"required": "x", "speed": "1"})
        assert str(info.value) == (
            "flow 'wf', parameter 'speed': the workflow has no parameter 'speed' (parameters: "
            "required, mode, n); check the name"
        )

    def test_enum(self) -> None:
        """A value outside the parameter's enum is refused."""
        with pytest.raises(RunError) as info:
            resolve_parameters(self.spec(), {"required": "x", "mode": "medium"})
        assert str(info.value) == (
            "flow 'wf', parameter 'mode': value 'medium' is not one of: fast, slow; pass one "
            "of the listed values"
        )

    def test_refused_before_anything_runs(self, tmp_path: Path) -> None:
        """run_manifest raises for a bad parameter without creating a run directory."""
        manifest = workflow(ECHO, arguments={"parameters": [{"name": "x"}]})
        assert refused(manifest, tmp_path) == (
            "flow 'wf', parameter 'x': is required and has no value in the manifest; "
            "pass -p x=VALUE"
        )
