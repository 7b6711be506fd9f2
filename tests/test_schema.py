"""Tests for flowdsl.schema: Argo's JSON schema, strict (unknown fields rejected)."""

from __future__ import annotations

import copy
import hashlib
import re
import subprocess
import sys
from importlib import resources
from types import MappingProxyType
from typing import Any

import pytest

from flowdsl.schema import API_VERSION, KINDS, schema_errors

NOTICE_SHA256 = "3f84c5722c48a5aa815fe69119a9375fc3635114f8046da20ede55a8596529f5"


def workflow() -> dict[str, Any]:
    """A Workflow with a DAG, a container and a script template (valid)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Workflow",
        "metadata": {
            "generateName": "etl-",
            "labels": {"app.kubernetes.io/name": "etl"},
            "annotations": {"workflows.argoproj.io/description": "demo"},
        },
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "n", "value": "3", "enum": ["1", "3"]}]},
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {"name": "make", "template": "make"},
                            {
                                "name": "show",
                                "template": "show",
                                "depends": "make",
                                "arguments": {
                                    "parameters": [
                                        {
                                            "name": "x",
                                            "value": "{{tasks.make.outputs.result}}",
                                        }
                                    ]
                                },
                            },
                        ]
                    },
                },
                {
                    "name": "make",
                    "retryStrategy": {"limit": "2", "retryPolicy": "OnFailure"},
                    "script": {
                        "image": "python:3.12",
                        "command": ["python"],
                        "source": "print(42)",
                        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
                    },
                },
                {
                    "name": "show",
                    "inputs": {"parameters": [{"name": "x"}]},
                    "container": {
                        "image": "alpine:3",
                        "command": ["echo", "{{inputs.parameters.x}}"],
                    },
                },
            ],
        },
    }


def workflow_template() -> dict[str, Any]:
    """A WorkflowTemplate (valid)."""
    doc = workflow()
    doc["kind"] = "WorkflowTemplate"
    doc["metadata"] = {"name": "etl"}
    return doc


def cron_workflow() -> dict[str, Any]:
    """A v4 CronWorkflow with a `schedules` list (valid)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "CronWorkflow",
        "metadata": {"name": "nightly"},
        "spec": {
            "schedules": ["0 3 * * *", "30 12 * * MON-FRI"],
            "timezone": "Europe/Paris",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 60,
            "workflowSpec": workflow()["spec"],
        },
    }


class TestAccepts:
    """Valid manifests of every kind give no errors."""

    @pytest.mark.parametrize("make", [workflow, workflow_template, cron_workflow])
    def test_valid_manifest(self, make: Any) -> None:
        """A hand-written valid manifest passes."""
        assert schema_errors(make()) == []

    def test_cluster_workflow_template(self) -> None:
        """A ClusterWorkflowTemplate is checked against its own definition."""
        doc = workflow_template()
        doc["kind"] = "ClusterWorkflowTemplate"
        assert schema_errors(doc) == []

    def test_integers_where_argo_decodes_them(self) -> None:
        """IntOrString, Quantity and AnyString fields take the numbers Argo accepts."""
        doc = workflow()
        make = doc["spec"]["templates"][1]
        make["retryStrategy"]["limit"] = 3
        make["activeDeadlineSeconds"] = 600
        make["script"]["resources"] = {"limits": {"cpu": 2, "memory": "1Gi"}}
        doc["spec"]["arguments"]["parameters"] = [
            {"name": "n", "value": 3, "enum": [1, 3], "description": "count"},
            {"name": "flag", "value": True, "default": False},
        ]
        assert schema_errors(doc) == []

    def test_tuples_and_read_only_mappings(self) -> None:
        """Manifests built in Python may hold tuples and read-only mappings."""
        doc = workflow()
        doc["metadata"] = MappingProxyType(doc["metadata"])
        doc["spec"]["templates"][2]["container"]["command"] = ("echo", "hi")
        assert schema_errors(doc) == []

    def test_free_form_plugin_template(self) -> None:
        """`plugin` is an object with one free-form key, so it stays open."""
        doc = workflow()
        doc["spec"]["templates"].append({"name": "p", "plugin": {"slack": {"text": "hi"}}})
        assert schema_errors(doc) == []


class TestUnknownFields:
    """Strict mode: a field the Argo API does not define is an error, as in `argo lint`."""

    def test_unknown_template_field(self) -> None:
        """The path names the unknown field itself."""
        doc = workflow()
        doc["spec"]["templates"][0]["foo"] = 1
        assert schema_errors(doc) == ["$.spec.templates[0].foo: unknown field 'foo'"]

    def test_unknown_nested_kubernetes_field(self) -> None:
        """Kubernetes definitions (here a container) are closed too."""
        doc = workflow()
        doc["spec"]["templates"][2]["container"]["imagePullPolicyy"] = "Always"
        assert schema_errors(doc) == [
            "$.spec.templates[2].container.imagePullPolicyy: unknown field 'imagePullPolicyy'"
        ]

    def test_empty_go_struct_rejects_every_key(self) -> None:
        """`archive.none` is an empty Go struct: any key in it is unknown."""
        doc = workflow()
        doc["spec"]["templates"][2]["outputs"] = {
            "artifacts": [{"name": "a", "path": "/tmp/a", "archive": {"none": {"x": 1}}}]
        }
        assert schema_errors(doc) == [
            "$.spec.templates[2].outputs.artifacts[0].archive.none.x: unknown field 'x'"
        ]

    def test_maps_stay_open(self) -> None:
        """Labels, annotations and nodeSelector are maps: any key is allowed."""
        doc = workflow()
        doc["metadata"]["labels"]["anything.example.com/key"] = "v"
        doc["spec"]["nodeSelector"] = {"kubernetes.io/arch": "amd64"}
        assert schema_errors(doc) == []

    def test_map_keys_are_quoted_in_paths(self) -> None:
        """A map key that is not an identifier is written in brackets."""
        doc = workflow()
        doc["metadata"]["labels"]["app.kubernetes.io/name"] = 5
        assert schema_errors(doc) == [
            '$.metadata.labels["app.kubernetes.io/name"]: expected string, got integer 5'
        ]


class TestTypes:
    """Wrong types and missing required fields."""

    def test_wrong_type(self) -> None:
        """The message gives the expected and the actual type and value."""
        doc = workflow()
        doc["spec"]["parallelism"] = "3"
        assert schema_errors(doc) == ['$.spec.parallelism: expected integer, got string "3"']

    def test_boolean_is_not_an_integer(self) -> None:
        """`true` is not a number, although Python's bool is an int."""
        doc = workflow()
        doc["spec"]["parallelism"] = True
        assert schema_errors(doc) == ["$.spec.parallelism: expected integer, got boolean true"]

    def test_non_json_value(self) -> None:
        """A Python object that is no JSON value is reported by its type name."""
        doc = workflow()
        doc["spec"]["serviceAccountName"] = object()
        (error,) = schema_errors(doc)
        assert re.fullmatch(
            r"\$\.spec\.serviceAccountName: expected string, got object \"<object object at .*>\"",
            error,
        )

    def test_missing_required_field(self) -> None:
        """A DAG task without a name."""
        doc = workflow()
        del doc["spec"]["templates"][0]["dag"]["tasks"][0]["name"]
        assert schema_errors(doc) == [
            "$.spec.templates[0].dag.tasks[0].name: missing required field 'name'"
        ]

    def test_missing_spec(self) -> None:
        """`metadata` and `spec` are required by every kind."""
        assert schema_errors({"apiVersion": API_VERSION, "kind": "Workflow"}) == [
            "$.metadata: missing required field 'metadata'",
            "$.spec: missing required field 'spec'",
        ]


class TestArgoV4:
    """Fields Argo v4 removed are unknown fields now."""

    def test_singular_schedule(self) -> None:
        """v3's `spec.schedule` is gone; v4 requires `schedules`."""
        doc = cron_workflow()
        del doc["spec"]["schedules"]
        doc["spec"]["schedule"] = "0 3 * * *"
        assert schema_errors(doc) == [
            "$.spec.schedule: unknown field 'schedule'",
            "$.spec.schedules: missing required field 'schedules'",
        ]

    def test_synchronization_mutex(self) -> None:
        """v3's `synchronization.mutex` is gone; v4 has `mutexes`."""
        doc = workflow()
        doc["spec"]["synchronization"] = {"mutex": {"name": "m"}}
        assert schema_errors(doc) == ["$.spec.synchronization.mutex: unknown field 'mutex'"]
        doc["spec"]["synchronization"] = {"mutexes": [{"name": "m"}]}
        assert schema_errors(doc) == []


class TestDocument:
    """kind, apiVersion and the document itself."""

    def test_unknown_kind(self) -> None:
        """The definition is picked from kind; an unknown kind is one error."""
        doc = workflow()
        doc["kind"] = "Sensor"
        assert schema_errors(doc) == [
            "$.kind: expected one of Workflow, WorkflowTemplate, CronWorkflow, "
            'ClusterWorkflowTemplate, got "Sensor"'
        ]

    def test_wrong_api_version(self) -> None:
        """apiVersion must be argoproj.io/v1alpha1, reported once."""
        doc = workflow()
        doc["apiVersion"] = "argoproj.io/v1"
        assert schema_errors(doc) == [
            '$.apiVersion: expected "argoproj.io/v1alpha1", got "argoproj.io/v1"'
        ]

    def test_missing_api_version(self) -> None:
        """A missing apiVersion is reported as null."""
        doc = workflow()
        del doc["apiVersion"]
        assert schema_errors(doc) == ['$.apiVersion: expected "argoproj.io/v1alpha1", got null']

    def test_not_a_mapping(self) -> None:
        """A YAML file may hold a list: one error, no crash."""
        assert schema_errors([1, 2]) == ["$: expected an object (a mapping), got array"]  # type: ignore[arg-type]

    def test_kinds(self) -> None:
        """The four kinds flowdsl emits or runs."""
        assert KINDS == ("Workflow", "WorkflowTemplate", "CronWorkflow", "ClusterWorkflowTemplate")


class TestOrder:
    """Errors are sorted by path (indices as numbers), then message, and deterministic."""

    def test_sorted_by_path(self) -> None:
        """templates[2] comes before templates[10]; keys sort after indices."""
        doc = workflow()
        for i in range(11):
            doc["spec"]["templates"].append({"name": f"t{i}", "suspend": {}})
        doc["spec"]["templates"][10]["zz"] = 1
        doc["spec"]["templates"][2]["aa"] = 1
        doc["spec"]["zz"] = 1
        doc["metadata"]["zz"] = 1
        assert schema_errors(doc) == [
            "$.metadata.zz: unknown field 'zz'",
            "$.spec.templates[2].aa: unknown field 'aa'",
            "$.spec.templates[10].zz: unknown field 'zz'",
            "$.spec.zz: unknown field 'zz'",
        ]

    def test_deterministic(self) -> None:
        """The same manifest gives the same list, and the input is not modified."""
        doc = workflow()
        doc["spec"]["templates"][0]["b"] = 1
        doc["spec"]["templates"][0]["a"] = 1
        before = copy.deepcopy(doc)
        first = schema_errors(doc)
        assert first == schema_errors(copy.deepcopy(doc))
        assert first == [
            "$.spec.templates[0].a: unknown field 'a'",
            "$.spec.templates[0].b: unknown field 'b'",
        ]
        assert doc == before


class TestPackageData:
    """The shipped schema is upstream's file, unchanged, and loads lazily."""

    def test_schema_is_byte_identical_to_upstream(self) -> None:
        """sha256 of flowdsl/data/argo/schema.json matches the NOTICE (Argo v4.1.2)."""
        data = resources.files("flowdsl").joinpath("data/argo/schema.json").read_bytes()
        assert hashlib.sha256(data).hexdigest() == NOTICE_SHA256
        notice = resources.files("flowdsl").joinpath("data/argo/NOTICE.md").read_text("utf-8")
        assert NOTICE_SHA256 in notice
        assert "Apache License" in notice

    def test_import_does_not_load_jsonschema(self) -> None:
        """`import flowdsl.schema` stays cheap: jsonschema loads on the first check."""
        code = (
            "import sys, flowdsl.schema as s; assert 'jsonschema' not in sys.modules; "
            "s.schema_errors({'kind': 'Workflow'}); assert 'jsonschema' in sys.modules"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
