"""Tests for flowdsl.lint: Argo's semantic rules, one class per rule."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
from typing import Any

import pytest

from flowdsl import errors
from flowdsl.lint import MAX_OBJECT_BYTES, LintProblem, lint, problems
from flowdsl.schema import schema_errors

from argo_oracle import argo_problems, assert_valid_argo


def workflow() -> dict[str, Any]:
    """The smallest interesting valid Workflow: a DAG `a -> b` over one container template."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "demo"},
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "greeting", "value": "hi"}]},
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {
                                "name": "a",
                                "template": "echo",
                                "arguments": {
                                    "parameters": [
                                        {
                                            "name": "message",
                                            "value": "{{workflow.parameters.greeting}}",
                                        }
                                    ]
                                },
                            },
                            {
                                "name": "b",
                                "template": "echo",
                                "depends": "a",
                                "arguments": {
                                    "parameters": [
                                        {"name": "message", "value": "{{tasks.a.outputs.result}}"}
                                    ]
                                },
                            },
                        ]
                    },
                },
                {
                    "name": "echo",
                    "inputs": {"parameters": [{"name": "message"}]},
                    "container": {
                        "image": "alpine:3",
                        "command": ["echo", "{{inputs.parameters.message}}"],
                    },
                },
            ],
        },
    }


def tasks(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The DAG tasks of the `main` template of :func:`workflow`."""
    result: list[dict[str, Any]] = doc["spec"]["templates"][0]["dag"]["tasks"]
    return result


def echo(doc: dict[str, Any]) -> dict[str, Any]:
    """The `echo` template of :func:`workflow`."""
    result: dict[str, Any] = doc["spec"]["templates"][1]
    return result


def steps_workflow() -> dict[str, Any]:
    """A valid Workflow whose entrypoint is a steps template: [a], then [b, c]."""
    doc = workflow()

    def step(name: str, message: str) -> dict[str, Any]:
        return {
            "name": name,
            "template": "echo",
            "arguments": {"parameters": [{"name": "message", "value": message}]},
        }

    doc["spec"]["templates"][0] = {
        "name": "main",
        "steps": [
            [step("a", "x")],
            [step("b", "{{steps.a.outputs.result}}"), step("c", "{{steps.a.status}}")],
        ],
    }
    return doc


def cron_workflow() -> dict[str, Any]:
    """A valid CronWorkflow running :func:`workflow`'s spec."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "nightly"},
        "spec": {
            "schedules": ["0 3 * * *"],
            "timezone": "Europe/Paris",
            "concurrencyPolicy": "Forbid",
            "workflowSpec": workflow()["spec"],
        },
    }


def only(doc: dict[str, Any], rule: str, path: str, message: str) -> None:
    """Assert that ``doc`` breaks exactly one rule, as described."""
    assert problems(doc) == [LintProblem(rule, path, message)]


def full_workflow() -> dict[str, Any]:
    """A valid Workflow using every construct the lint knows about."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "generateName": "demo-",
            "labels": {"team": "ml"},
            "annotations": {"owner": "me"},
        },
        "spec": {
            "entrypoint": "main",
            "onExit": "exit-handler",
            "arguments": {
                "parameters": [
                    {"name": "source", "value": "s3://b/raw.csv"},
                    {"name": "mode", "value": "full", "enum": ["full", "incremental"]},
                    {"name": "limit"},
                ]
            },
            "hooks": {
                "running": {
                    "expression": "workflow.status == 'Running'",
                    "template": "notify",
                    "arguments": {
                        "parameters": [{"name": "message", "value": "{{workflow.name}} runs"}]
                    },
                }
            },
            "templates": [
                {
                    "name": "main",
                    "inputs": {"parameters": [{"name": "source"}, {"name": "limit"}]},
                    "dag": {
                        "tasks": [
                            {
                                "name": "extract",
                                "template": "extract",
                                "arguments": {
                                    "parameters": [
                                        {"name": "source", "value": "{{inputs.parameters.source}}"},
                                        {"name": "limit", "value": "{{workflow.parameters.limit}}"},
                                    ]
                                },
                            },
                            {
                                "name": "train",
                                "template": "train",
                                "depends": "extract",
                                "withItems": [{"model": "resnet"}, {"model": "vit"}],
                                "arguments": {
                                    "parameters": [
                                        {
                                            "name": "rows",
                                            "value": "{{tasks.extract.outputs.parameters.rows}}",
                                        },
                                        {"name": "model", "value": "{{item.model}}"},
                                    ]
                                },
                            },
                            {
                                "name": "pick",
                                "template": "pick",
                                "depends": (
                                    "train.AnySucceeded || (train.Failed && !extract.Skipped)"
                                ),
                                "arguments": {
                                    "parameters": [
                                        {
                                            "name": "scores",
                                            "value": "{{tasks.train.outputs.parameters}}",
                                        }
                                    ]
                                },
                            },
                            {
                                "name": "deploy",
                                "template": "deploy",
                                "depends": "pick",
                                "when": "{{=jsonpath(tasks.pick.outputs.result, '$.acc') > 0.9}}",
                                "arguments": {
                                    "parameters": [
                                        {"name": "best", "value": "{{tasks.pick.outputs.result}}"}
                                    ]
                                },
                                "hooks": {
                                    "exit": {
                                        "template": "notify",
                                        "arguments": {
                                            "parameters": [
                                                {
                                                    "name": "message",
                                                    "value": "{{tasks.deploy.status}}",
                                                }
                                            ]
                                        },
                                    }
                                },
                            },
                            {
                                "name": "fan",
                                "template": "echo",
                                "depends": "extract",
                                "withParam": "{{tasks.extract.outputs.parameters.rows}}",
                                "arguments": {
                                    "parameters": [
                                        {
                                            "name": "message",
                                            "value": "{{item}} {{item.x}} {{tasks.extract.id}}",
                                        }
                                    ]
                                },
                            },
                            {
                                "name": "seq",
                                "template": "echo",
                                "depends": "pick && fan",
                                "withSequence": {"count": "3"},
                                "arguments": {
                                    "parameters": [
                                        {"name": "message", "value": "{{ item }} {{workflow.uid}}"}
                                    ]
                                },
                            },
                        ]
                    },
                    "outputs": {
                        "parameters": [
                            {
                                "name": "best",
                                "valueFrom": {"parameter": "{{tasks.pick.outputs.result}}"},
                            }
                        ]
                    },
                },
                {
                    "name": "extract",
                    "inputs": {
                        "parameters": [{"name": "source"}, {"name": "limit", "default": "10"}]
                    },
                    "outputs": {
                        "parameters": [
                            {
                                "name": "rows",
                                "valueFrom": {"path": "/tmp/rows"},
                                "globalName": "rows",
                            }
                        ]
                    },
                    "retryStrategy": {"limit": 3, "retryPolicy": "OnFailure"},
                    "container": {
                        "image": "alpine:3",
                        "command": ["sh", "-c"],
                        "args": [
                            "echo {{inputs.parameters.source}} {{inputs.parameters.limit}} "
                            "{{pod.name}} {{retries}} {{workflow.creationTimestamp.RFC3339}}"
                        ],
                    },
                },
                {
                    "name": "train",
                    "inputs": {
                        "parameters": [
                            {"name": "rows"},
                            {"name": "model", "enum": ["resnet", "vit"]},
                        ]
                    },
                    "outputs": {
                        "parameters": [{"name": "score", "valueFrom": {"path": "/tmp/score"}}]
                    },
                    "timeout": "2h",
                    "activeDeadlineSeconds": 7200,
                    "metrics": {
                        "prometheus": [
                            {
                                "name": "train_duration",
                                "help": "how long training took",
                                "labels": [{"key": "status", "value": "{{status}}"}],
                                "gauge": {"value": "{{duration}}", "realtime": False},
                            }
                        ]
                    },
                    "script": {
                        "image": "python:3.12",
                        "command": ["python"],
                        "source": "print('{{inputs.parameters.model}}')",
                    },
                },
                {
                    "name": "pick",
                    "inputs": {"parameters": [{"name": "scores"}]},
                    "script": {
                        "image": "python:3.12",
                        "command": ["python"],
                        "source": "print({{inputs.parameters}})",
                    },
                },
                {
                    "name": "deploy",
                    "inputs": {"parameters": [{"name": "best"}]},
                    "parallelism": 2,
                    "steps": [
                        [
                            {
                                "name": "check",
                                "template": "echo",
                                "arguments": {
                                    "parameters": [
                                        {"name": "message", "value": "{{inputs.parameters.best}}"}
                                    ]
                                },
                            }
                        ],
                        [
                            {
                                "name": "push",
                                "template": "echo",
                                "arguments": {
                                    "parameters": [
                                        {
                                            "name": "message",
                                            "value": "{{steps.check.outputs.result}}",
                                        }
                                    ]
                                },
                            },
                            {"name": "wait", "template": "pause"},
                        ],
                    ],
                    "outputs": {
                        "parameters": [
                            {
                                "name": "out",
                                "valueFrom": {"parameter": "{{steps.push.outputs.result}}"},
                            }
                        ]
                    },
                },
                {
                    "name": "echo",
                    "inputs": {"parameters": [{"name": "message"}]},
                    "container": {
                        "image": "alpine:3",
                        "command": ["echo", "{{inputs.parameters.message}}"],
                    },
                },
                {"name": "pause", "suspend": {"duration": "10s"}},
                {
                    "name": "notify",
                    "inputs": {"parameters": [{"name": "message"}]},
                    "http": {"url": "https://example.com/hook?m={{inputs.parameters.message}}"},
                },
                {
                    "name": "exit-handler",
                    "container": {
                        "image": "alpine:3",
                        "command": [
                            "echo",
                            "{{workflow.status}} {{workflow.failures}} "
                            "{{workflow.outputs.parameters.rows}} {{workflow.labels.team}} "
                            "{{workflow.annotations.owner}} {{workflow.parameters.mode}}",
                        ],
                    },
                },
            ],
        },
    }


class TestValidManifests:
    """Valid manifests of every kind and construct give no problems."""

    def test_every_construct(self) -> None:
        """DAG, steps, loops, depends expressions, hooks, metrics, globals, expressions."""
        doc = full_workflow()
        assert problems(doc) == []
        assert schema_errors(doc) == []

    @pytest.mark.parametrize("make", [workflow, steps_workflow, cron_workflow])
    def test_small_manifests(self, make: Any) -> None:
        """The fixtures the rule tests break are valid to begin with."""
        assert problems(make()) == []

    def test_workflow_template_without_entrypoint(self) -> None:
        """A WorkflowTemplate is a library of templates: no entrypoint needed."""
        doc = workflow()
        doc["kind"] = "WorkflowTemplate"
        del doc["spec"]["entrypoint"]
        assert problems(doc) == []

    def test_template_ref_calls_are_not_checked(self) -> None:
        """A template from another resource: its inputs are unknown here."""
        doc = workflow()
        task = tasks(doc)[1]
        del task["template"]
        task["templateRef"] = {"name": "library", "template": "anything"}
        task["arguments"]["parameters"].append({"name": "extra", "value": "1"})
        assert problems(doc) == []

    def test_input_is_not_modified(self) -> None:
        """problems() reads the manifest only."""
        doc = full_workflow()
        before = copy.deepcopy(doc)
        problems(doc)
        assert doc == before

    def test_twenty_thousand_task_chain(self) -> None:
        """A 20,000-task chain lints (no recursion limit) with no problem."""
        chain = [{"name": "t0", "template": "s"}]
        chain += [
            {"name": f"t{i}", "template": "s", "depends": f"t{i - 1}"} for i in range(1, 20_000)
        ]
        doc = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"name": "chain"},
            "spec": {
                "entrypoint": "main",
                "templates": [
                    {"name": "main", "dag": {"tasks": chain}},
                    {"name": "s", "container": {"image": "alpine:3"}},
                ],
            },
        }
        assert problems(doc) == []


class TestImports:
    """flowdsl.lint stays light: the standard library and flowdsl.errors only."""

    def test_no_heavy_imports(self) -> None:
        """Importing the lint loads neither Hera, pydantic, PyYAML nor jsonschema."""
        code = (
            "import sys, flowdsl.lint; "
            "heavy = {'hera', 'pydantic', 'yaml', 'jsonschema', 'attrs', 'cloudpickle'}; "
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy); "
            "assert not loaded, loaded"
        )
        subprocess.run([sys.executable, "-c", code], check=True)


class TestLintFunction:
    """lint() raises LintError for the first problem."""

    def test_raises_first_problem(self) -> None:
        """The error carries rule and path, and says it is a flowdsl bug."""
        doc = workflow()
        tasks(doc)[1]["template"] = "ehco"
        doc["spec"]["entrypoint"] = "mian"
        with pytest.raises(errors.LintError) as caught:
            lint(doc)
        assert caught.value.rule == "entrypoint"
        assert caught.value.path == "spec.entrypoint"
        assert str(caught.value) == (
            "[entrypoint] at spec.entrypoint: entrypoint 'mian' names no template "
            "(templates: 'echo', 'main'); this is a flowdsl bug; please report it with the "
            "flow that produced it"
        )
        assert pickle.loads(pickle.dumps(caught.value)).rule == "entrypoint"

    def test_valid_manifest_passes(self) -> None:
        """No problem, no exception."""
        lint(workflow())


class TestOracle:
    """tests/argo_oracle.py runs both oracles in one assertion."""

    def test_lists_schema_and_lint_problems(self) -> None:
        """One failure lists schema errors and lint problems together."""
        doc = workflow()
        echo(doc)["foo"] = 1
        tasks(doc)[1]["template"] = "ehco"
        assert argo_problems(doc) == [
            "schema $.spec.templates[1].foo: unknown field 'foo'",
            "lint [template-ref] spec.templates[0].dag.tasks[1].template: task 'b' calls "
            "template 'ehco', which is not defined (templates: 'echo', 'main')",
        ]
        with pytest.raises(AssertionError, match=r"Workflow 'demo' is not valid Argo \(2\)"):
            assert_valid_argo(doc)

    def test_valid_manifest(self) -> None:
        """A valid manifest passes both oracles."""
        assert_valid_argo(full_workflow())


class TestKind:
    """kind: the four Argo kinds the lint knows."""

    def test_unknown_kind(self) -> None:
        """A Sensor is not linted here."""
        doc = workflow()
        doc["kind"] = "Sensor"
        only(
            doc,
            "kind",
            "kind",
            "kind must be one of Workflow, WorkflowTemplate, ClusterWorkflowTemplate, "
            "CronWorkflow, got 'Sensor'",
        )

    def test_not_a_mapping(self) -> None:
        """A YAML list instead of a manifest: one problem, no crash."""
        assert problems([1]) == [  # type: ignore[arg-type]
            LintProblem("kind", "(root)", "a manifest is a mapping, got list")
        ]


class TestResourceName:
    """resource-name: metadata.name / generateName are DNS-1123 and short enough."""

    def test_not_dns_1123(self) -> None:
        """Uppercase and '_' are not allowed."""
        doc = workflow()
        doc["metadata"] = {"name": "Demo_1"}
        only(
            doc,
            "resource-name",
            "metadata.name",
            "Workflow name 'Demo_1' is not a DNS-1123 name (lowercase letters, digits and '-', "
            "starting and ending with a letter or digit)",
        )

    def test_workflow_name_has_no_dots(self) -> None:
        """Dots are only allowed in (Cluster)WorkflowTemplate names."""
        doc = workflow()
        doc["metadata"] = {"name": "team.etl"}
        assert [p.rule for p in problems(doc)] == ["resource-name"]
        doc["kind"] = "WorkflowTemplate"
        assert problems(doc) == []

    def test_too_long(self) -> None:
        """Workflow names are at most 63 characters."""
        doc = workflow()
        doc["metadata"] = {"name": "a" * 64}
        only(
            doc,
            "resource-name",
            "metadata.name",
            f"Workflow name {'a' * 64!r} is 64 characters long, over Argo's limit of 63",
        )

    def test_cron_workflow_limit(self) -> None:
        """CronWorkflow names are at most 52 characters (runs append a timestamp)."""
        doc = cron_workflow()
        doc["metadata"] = {"name": "n" * 53}
        only(
            doc,
            "resource-name",
            "metadata.name",
            f"CronWorkflow name {'n' * 53!r} is 53 characters long, over Argo's limit of 52",
        )

    def test_generate_name(self) -> None:
        """A generateName may end with '-' but must start with a letter or digit."""
        doc = workflow()
        doc["metadata"] = {"generateName": "demo--"}
        assert problems(doc) == []
        doc["metadata"] = {"generateName": "-demo-"}
        only(
            doc,
            "resource-name",
            "metadata.generateName",
            "Workflow generateName '-demo-' is not a DNS-1123 prefix (lowercase letters, digits "
            "and '-', starting with a letter or digit, ending with one or '-')",
        )

    def test_generate_name_length(self) -> None:
        """The 5 random characters Kubernetes appends must still fit."""
        doc = workflow()
        doc["metadata"] = {"generateName": "a" * 58}
        assert problems(doc) == []
        doc["metadata"] = {"generateName": "a" * 59}
        only(
            doc,
            "resource-name",
            "metadata.generateName",
            f"Workflow generateName {'a' * 59!r} is 59 characters long; with the 5 characters "
            "Kubernetes appends it exceeds Argo's limit of 63",
        )

    def test_no_name(self) -> None:
        """One of name and generateName is needed."""
        doc = workflow()
        doc["metadata"] = {}
        only(
            doc,
            "resource-name",
            "metadata",
            "a Workflow needs metadata.name or metadata.generateName, got neither",
        )


class TestFieldName:
    """field-name: template, task and step names."""

    def test_template_name(self) -> None:
        """'_' is not allowed in a template name."""
        doc = workflow()
        doc["spec"]["templates"].append({"name": "echo_1", "suspend": {}})
        only(
            doc,
            "field-name",
            "spec.templates[2].name",
            "template name 'echo_1' must consist of letters, digits and '-', "
            "starting with a letter or digit",
        )

    def test_task_name_length(self) -> None:
        """At most 128 characters."""
        doc = workflow()
        doc["spec"]["templates"][0]["dag"]["tasks"].append(
            {
                "name": "b" * 129,
                "template": "echo",
                "arguments": {"parameters": [{"name": "message", "value": "x"}]},
            }
        )
        only(
            doc,
            "field-name",
            "spec.templates[0].dag.tasks[2].name",
            f"task name {'b' * 129!r} is 129 characters long, over Argo's limit of 128",
        )

    def test_missing_step_name(self) -> None:
        """A step needs a name."""
        doc = steps_workflow()
        del doc["spec"]["templates"][0]["steps"][1][1]["name"]
        only(
            doc, "field-name", "spec.templates[0].steps[1][1].name", "a step needs a name, got None"
        )


class TestParameterName:
    """parameter-name: parameter and artifact names."""

    def test_dot_in_parameter_name(self) -> None:
        """'.' would break {{inputs.parameters.<name>}}."""
        doc = workflow()
        doc["spec"]["arguments"]["parameters"][0]["name"] = "my.greeting"
        problem = problems(doc)[0]
        assert problem == LintProblem(
            "parameter-name",
            "spec.arguments.parameters[0].name",
            "parameter name 'my.greeting' must consist of letters, digits, '_' and '-'",
        )

    def test_underscore_allowed(self) -> None:
        """Unlike template names, parameter names may hold '_'."""
        doc = workflow()
        doc["spec"]["arguments"]["parameters"].append({"name": "dry_run", "value": "true"})
        assert problems(doc) == []


class TestDuplicateName:
    """duplicate-name: templates, tasks, steps and each parameter list have unique names."""

    def test_duplicate_template(self) -> None:
        """Two templates named 'echo'."""
        doc = workflow()
        doc["spec"]["templates"].append(copy.deepcopy(echo(doc)))
        only(
            doc,
            "duplicate-name",
            "spec.templates[2].name",
            "template name 'echo' is used by more than one template",
        )

    def test_duplicate_task(self) -> None:
        """Two tasks named 'a' in one DAG."""
        doc = workflow()
        extra = copy.deepcopy(tasks(doc)[0])
        tasks(doc).append(extra)
        only(
            doc,
            "duplicate-name",
            "spec.templates[0].dag.tasks[2].name",
            "task name 'a' is used twice in DAG template 'main'",
        )

    def test_duplicate_step_across_groups(self) -> None:
        """Step names are unique in the whole steps template."""
        doc = steps_workflow()
        doc["spec"]["templates"][0]["steps"][1][1]["name"] = "a"
        only(
            doc,
            "duplicate-name",
            "spec.templates[0].steps[1][1].name",
            "step name 'a' is used twice in steps template 'main'",
        )

    def test_duplicate_parameter(self) -> None:
        """Two workflow parameters named 'greeting'."""
        doc = workflow()
        doc["spec"]["arguments"]["parameters"].append({"name": "greeting"})
        only(
            doc,
            "duplicate-name",
            "spec.arguments.parameters[1].name",
            "parameter name 'greeting' appears more than once in this list",
        )


class TestEntrypoint:
    """entrypoint: a Workflow has one, and it names a template."""

    def test_missing(self) -> None:
        """A Workflow without entrypoint."""
        doc = workflow()
        del doc["spec"]["entrypoint"]
        only(
            doc,
            "entrypoint",
            "spec.entrypoint",
            "a Workflow needs spec.entrypoint (the template to run first), got none",
        )

    def test_unknown(self) -> None:
        """A misspelt entrypoint lists the templates."""
        doc = workflow()
        doc["spec"]["entrypoint"] = "mian"
        only(
            doc,
            "entrypoint",
            "spec.entrypoint",
            "entrypoint 'mian' names no template (templates: 'echo', 'main')",
        )

    def test_cron_workflow_spec_path(self) -> None:
        """In a CronWorkflow the path goes through spec.workflowSpec."""
        doc = cron_workflow()
        del doc["spec"]["workflowSpec"]["entrypoint"]
        only(
            doc,
            "entrypoint",
            "spec.workflowSpec.entrypoint",
            "a CronWorkflow needs spec.entrypoint (the template to run first), got none",
        )


class TestWorkflowTemplateRef:
    """workflow-template-ref: a spec that refers to a WorkflowTemplate defines no templates."""

    def test_ref_with_templates(self) -> None:
        """Argo rejects templates next to a workflowTemplateRef."""
        doc = workflow()
        doc["spec"]["workflowTemplateRef"] = {"name": "library"}
        only(
            doc,
            "workflow-template-ref",
            "spec.templates",
            "a spec with a workflowTemplateRef must not define templates (got 2)",
        )

    def test_ref_without_entrypoint(self) -> None:
        """The entrypoint may come from the referenced template."""
        doc = workflow()
        doc["spec"] = {"workflowTemplateRef": {"name": "library"}}
        assert problems(doc) == []


class TestTemplateRef:
    """template-ref: tasks, steps, hooks and onExit call templates that exist."""

    def test_unknown_task_template(self) -> None:
        """A task calls a misspelt template."""
        doc = workflow()
        tasks(doc)[1]["template"] = "ehco"
        only(
            doc,
            "template-ref",
            "spec.templates[0].dag.tasks[1].template",
            "task 'b' calls template 'ehco', which is not defined (templates: 'echo', 'main')",
        )

    def test_unknown_step_template(self) -> None:
        """A step calls a template that does not exist."""
        doc = steps_workflow()
        doc["spec"]["templates"][0]["steps"][0][0]["template"] = "nope"
        only(
            doc,
            "template-ref",
            "spec.templates[0].steps[0][0].template",
            "step 'a' calls template 'nope', which is not defined (templates: 'echo', 'main')",
        )

    def test_template_and_template_ref(self) -> None:
        """Exactly one of template, templateRef, inline."""
        doc = workflow()
        tasks(doc)[1]["templateRef"] = {"name": "library", "template": "echo"}
        only(
            doc,
            "template-ref",
            "spec.templates[0].dag.tasks[1]",
            "task 'b' must have exactly one of template, templateRef or inline, "
            "got template, templateRef",
        )

    def test_unknown_on_exit(self) -> None:
        """spec.onExit names a template."""
        doc = workflow()
        doc["spec"]["onExit"] = "cleanup"
        only(
            doc,
            "template-ref",
            "spec.onExit",
            "onExit template 'cleanup' is not defined (templates: 'echo', 'main')",
        )

    def test_unknown_hook_template(self) -> None:
        """A hook calls a template that does not exist."""
        doc = workflow()
        doc["spec"]["hooks"] = {"exit": {"template": "cleanup"}}
        only(
            doc,
            "template-ref",
            "spec.hooks.exit.template",
            "hook 'exit' calls template 'cleanup', which is not defined "
            "(templates: 'echo', 'main')",
        )


class TestTemplateType:
    """template-type: exactly one type per template."""

    def test_two_types(self) -> None:
        """container and script together."""
        doc = workflow()
        echo(doc)["script"] = {"image": "python:3.12", "source": "print(1)"}
        only(
            doc,
            "template-type",
            "spec.templates[1]",
            "template 'echo' must have exactly one type (container, script, dag, steps, "
            "resource, suspend, containerSet, data, http, plugin), got container, script",
        )

    def test_no_type(self) -> None:
        """A template with inputs only."""
        doc = workflow()
        del echo(doc)["container"]
        only(
            doc,
            "template-type",
            "spec.templates[1]",
            "template 'echo' must have exactly one type (container, script, dag, steps, "
            "resource, suspend, containerSet, data, http, plugin), got none",
        )


class TestTemplateField:
    """template-field: fields valid only on some template types."""

    def test_active_deadline_on_dag(self) -> None:
        """activeDeadlineSeconds belongs on leaf templates."""
        doc = workflow()
        doc["spec"]["templates"][0]["activeDeadlineSeconds"] = 10
        only(
            doc,
            "template-field",
            "spec.templates[0].activeDeadlineSeconds",
            "template 'main' is a dag template; activeDeadlineSeconds is only valid on leaf "
            "templates (container, script, ...)",
        )

    def test_parallelism_on_leaf(self) -> None:
        """parallelism belongs on dag and steps templates."""
        doc = workflow()
        echo(doc)["parallelism"] = 2
        only(
            doc,
            "template-field",
            "spec.templates[1].parallelism",
            "template 'echo' is a container template; parallelism is only valid on dag and "
            "steps templates",
        )

    def test_timeout_without_unit(self) -> None:
        """A timeout is a duration, not a bare number."""
        doc = workflow()
        echo(doc)["timeout"] = "30"
        only(
            doc,
            "template-field",
            "spec.templates[1].timeout",
            "template 'echo' has timeout '30', a bare number; write a duration with a unit, "
            "e.g. '30s' or '2h'",
        )

    def test_timeout_on_dag(self) -> None:
        """A DAG template has no timeout."""
        doc = workflow()
        doc["spec"]["templates"][0]["timeout"] = "1h"
        only(
            doc,
            "template-field",
            "spec.templates[0].timeout",
            "template 'main' is a dag template; timeout is only valid on leaf templates",
        )


class TestRetryPolicy:
    """retry-policy: one of Argo's four policies."""

    def test_unknown_policy(self) -> None:
        """'Sometimes' is not a policy."""
        doc = workflow()
        echo(doc)["retryStrategy"] = {"limit": 2, "retryPolicy": "Sometimes"}
        only(
            doc,
            "retry-policy",
            "spec.templates[1].retryStrategy.retryPolicy",
            "retryPolicy must be one of Always, OnFailure, OnError, OnTransientError, "
            "got 'Sometimes'",
        )


class TestDagEmpty:
    """dag-empty: a DAG has at least one task."""

    def test_no_tasks(self) -> None:
        """An empty task list."""
        doc = workflow()
        doc["spec"]["templates"][0]["dag"]["tasks"] = []
        only(doc, "dag-empty", "spec.templates[0].dag.tasks", "DAG template 'main' has no tasks")


class TestDependencyRef:
    """dependency-ref: depends and dependencies name tasks of the same DAG."""

    def test_depends_unknown_task(self) -> None:
        """`a && c` where there is no task c."""
        doc = workflow()
        tasks(doc)[1]["depends"] = "a && c"
        only(
            doc,
            "dependency-ref",
            "spec.templates[0].dag.tasks[1].depends",
            "task 'b' depends on 'c', which is not a task of DAG template 'main'",
        )

    def test_dependencies_unknown_task(self) -> None:
        """The legacy list form."""
        doc = workflow()
        del tasks(doc)[1]["depends"]
        tasks(doc)[1]["dependencies"] = ["a", "c"]
        only(
            doc,
            "dependency-ref",
            "spec.templates[0].dag.tasks[1].dependencies[1]",
            "task 'b' depends on 'c', which is not a task of DAG template 'main'",
        )


class TestDependsSyntax:
    """depends-syntax: task names, results, &&, ||, ! and parentheses."""

    @pytest.mark.parametrize(
        "expression",
        [
            "a",
            "!a",
            "a.Succeeded || a.Failed",
            "!(a.Failed || a.Errored) && (a.Skipped || a.Omitted || a.Daemoned)",
            "  ( ( a ) )  ",
        ],
    )
    def test_valid(self, expression: str) -> None:
        """Expressions Argo accepts."""
        doc = workflow()
        tasks(doc)[1]["depends"] = expression
        assert problems(doc) == []

    @pytest.mark.parametrize(
        ("expression", "reason"),
        [
            ("a &&", "the expression ends without an operand"),
            ("a b", "missing && or || before 'b'"),
            ("(a", "1 '(' not closed"),
            ("a)", "unexpected ')'"),
            ("a || || a", "'||' is missing an operand"),
            ("a $ b", "unexpected '$ b' at character 2"),
            ("a !", "unexpected '!'"),
            (
                "a.Succeded",
                "a.Succeded is not a task result (use one of AllFailed, AnySucceeded, Daemoned, "
                "Errored, Failed, Omitted, Skipped, Succeeded)",
            ),
        ],
    )
    def test_invalid(self, expression: str, reason: str) -> None:
        """The message quotes the expression and says what is wrong."""
        doc = workflow()
        tasks(doc)[1]["depends"] = expression
        only(
            doc,
            "depends-syntax",
            "spec.templates[0].dag.tasks[1].depends",
            f"task 'b' has depends {expression!r}: {reason}",
        )

    def test_items_result_needs_a_loop(self) -> None:
        """.AnySucceeded is only meaningful for a looped task."""
        doc = workflow()
        tasks(doc)[1]["depends"] = "a.AnySucceeded"
        only(
            doc,
            "depends-syntax",
            "spec.templates[0].dag.tasks[1].depends",
            "task 'b' has depends 'a.AnySucceeded': a.AnySucceeded needs 'a' to loop "
            "(withItems, withParam or withSequence), but it does not",
        )
        tasks(doc)[0]["withItems"] = ["x", "y"]
        assert problems(doc) == []


class TestDependsMixed:
    """depends-mixed: one DAG uses depends or dependencies, not both."""

    def test_mixed(self) -> None:
        """Task b uses depends, task c dependencies."""
        doc = workflow()
        tasks(doc).append(
            {
                "name": "c",
                "template": "echo",
                "dependencies": ["a"],
                "arguments": {"parameters": [{"name": "message", "value": "x"}]},
            }
        )
        only(
            doc,
            "depends-mixed",
            "spec.templates[0].dag.tasks[2].dependencies",
            "DAG template 'main' mixes 'depends' and 'dependencies'; use one of them for all "
            "its tasks",
        )


class TestDependsContinueOn:
    """depends-continue-on: continueOn cannot be used with depends."""

    def test_continue_on(self) -> None:
        """The condition belongs in depends."""
        doc = workflow()
        tasks(doc)[1]["continueOn"] = {"failed": True}
        only(
            doc,
            "depends-continue-on",
            "spec.templates[0].dag.tasks[1].continueOn",
            "task 'b' uses continueOn in a DAG that uses 'depends'; write the condition in "
            "'depends' instead (e.g. 'a.Succeeded || a.Failed')",
        )


class TestTaskNameDigit:
    """task-name-digit: no leading digit where dependencies are parsed."""

    def test_leading_digit_with_depends(self) -> None:
        """'1a' in a DAG that uses depends."""
        doc = workflow()
        tasks(doc)[0]["name"] = "1a"
        tasks(doc)[1]["depends"] = "1a"
        tasks(doc)[1]["arguments"]["parameters"][0]["value"] = "x"
        only(
            doc,
            "task-name-digit",
            "spec.templates[0].dag.tasks[0].name",
            "task name '1a' starts with a digit, which Argo rejects when the DAG uses 'depends' "
            "or the task uses 'dependencies'",
        )

    def test_leading_digit_without_dependencies(self) -> None:
        """A DAG without dependencies may have such names."""
        doc = workflow()
        doc["spec"]["templates"][0]["dag"]["tasks"] = [tasks(doc)[0]]
        tasks(doc)[0]["name"] = "1a"
        assert problems(doc) == []


class TestDagCycle:
    """dag-cycle: no dependency cycle; the cycle is named in run order."""

    def test_two_task_cycle(self) -> None:
        """a depends on b, b on a."""
        doc = workflow()
        tasks(doc)[0]["depends"] = "b"
        only(
            doc,
            "dag-cycle",
            "spec.templates[0].dag.tasks",
            "DAG template 'main' has a dependency cycle: a -> b -> a",
        )

    def test_self_dependency(self) -> None:
        """A task that depends on itself."""
        doc = workflow()
        tasks(doc)[0]["depends"] = "a"
        only(
            doc,
            "dag-cycle",
            "spec.templates[0].dag.tasks",
            "DAG template 'main' has a dependency cycle: a -> a",
        )

    def test_long_cycle_is_shortened(self) -> None:
        """A 20,000-task cycle is reported without recursion and with a short message."""
        ring = [
            {"name": f"t{i}", "template": "s", "depends": f"t{(i + 1) % 20_000}"}
            for i in range(20_000)
        ]
        doc = workflow()
        doc["spec"]["templates"] = [
            {"name": "main", "dag": {"tasks": ring}},
            {"name": "s", "container": {"image": "alpine:3"}},
        ]
        only(
            doc,
            "dag-cycle",
            "spec.templates[0].dag.tasks",
            "DAG template 'main' has a dependency cycle: t0 -> t19999 -> t19998 -> t19997 -> "
            "t19996 -> t19995 -> ... (19989 more) -> t5 -> t4 -> t3 -> t2 -> t1 -> t0",
        )


class TestHookExpression:
    """hook-expression: hooks other than exit need an expression."""

    def test_task_hook_without_expression(self) -> None:
        """A 'running' hook on a task."""
        doc = workflow()
        tasks(doc)[0]["hooks"] = {
            "running": {
                "template": "echo",
                "arguments": {"parameters": [{"name": "message", "value": "{{tasks.a.status}}"}]},
            }
        }
        only(
            doc,
            "hook-expression",
            "spec.templates[0].dag.tasks[0].hooks.running.expression",
            "lifecycle hook 'running' needs an expression (only the 'exit' hook runs without one)",
        )


class TestUnclosedTag:
    """unclosed-tag: every {{ has its }}."""

    def test_unclosed(self) -> None:
        """The message shows where the tag starts."""
        doc = workflow()
        echo(doc)["container"]["args"] = ["say {{inputs.parameters.message"]
        only(
            doc,
            "unclosed-tag",
            "spec.templates[1].container.args[0]",
            "'{{' at character 4 has no closing '}}': '{{inputs.parameters.message'",
        )

    def test_json_braces_are_fine(self) -> None:
        """A stray '}}' (JSON in a default) is not a tag."""
        doc = workflow()
        doc["spec"]["arguments"]["parameters"].append({"name": "cfg", "value": '{"a": {"b": 1}}'})
        assert problems(doc) == []


class TestUnresolvedTag:
    """unresolved-tag: each {{...}} variable exists in its scope."""

    @pytest.mark.parametrize(
        ("tag", "message"),
        [
            (
                "{{inputs.parameters.mesage}}",
                "{{inputs.parameters.mesage}} names no input parameter of template 'echo' "
                "(inputs.parameters: 'message')",
            ),
            (
                "{{workflow.parameters.x}}",
                "{{workflow.parameters.x}} names no workflow parameter "
                "(spec.arguments.parameters: 'greeting')",
            ),
            ("{{foo}}", "{{foo}} is not a variable Argo defines here"),
            ("{{retries}}", "{{retries}} is only defined in a template with a retryStrategy"),
            (
                "{{workflow.labels.team}}",
                "{{workflow.labels.team}} names no label of the workflow (labels: none)",
            ),
            (
                "{{workflow.outputs.parameters.rows}}",
                "{{workflow.outputs.parameters.rows}} names no output parameter exported with "
                "a globalName (globalNames: none)",
            ),
            (
                "{{outputs.parameters.x}}",
                "{{outputs.parameters.x}} names no output parameter of template 'echo' "
                "(outputs.parameters: none)",
            ),
            ("{{workflow.nme}}", "{{workflow.nme}} is not a workflow variable Argo defines"),
        ],
    )
    def test_template_scope(self, tag: str, message: str) -> None:
        """Inside a container template."""
        doc = workflow()
        echo(doc)["container"]["args"] = [f"say {tag}"]
        only(doc, "unresolved-tag", "spec.templates[1].container.args[0]", message)

    @pytest.mark.parametrize(
        ("tag", "message"),
        [
            (
                "{{tasks.a.outputs.parameters.out}}",
                "{{tasks.a.outputs.parameters.out}}: template 'echo' of task 'a' declares no "
                "output parameter 'out' (outputs.parameters: none)",
            ),
            (
                "{{tasks.c.outputs.result}}",
                "{{tasks.c.outputs.result}} refers to task 'c', which is not a task of DAG "
                "template 'main'",
            ),
            ("{{tasks.a}}", "{{tasks.a}} names no field of task 'a'"),
            ("{{tasks.a.ip}}", "{{tasks.a.ip}}: template 'echo' of task 'a' is not a daemon"),
            (
                "{{tasks.a.outputs.parameters}}",
                "{{tasks.a.outputs.parameters}}: task 'a' does not loop, so it has no "
                "aggregated outputs.parameters",
            ),
            (
                "{{pod.name}}",
                "{{pod.name}} is only defined in templates that run a pod (container, script, "
                "containerSet, resource, data)",
            ),
            ("{{steps.a.status}}", "{{steps.a.status}} is only defined inside a steps template"),
        ],
    )
    def test_task_scope(self, tag: str, message: str) -> None:
        """In a DAG task's arguments."""
        doc = workflow()
        tasks(doc)[1]["arguments"]["parameters"][0]["value"] = tag
        only(
            doc,
            "unresolved-tag",
            "spec.templates[0].dag.tasks[1].arguments.parameters[0].value",
            message,
        )

    def test_exit_code_of_a_step(self) -> None:
        """Both spellings Argo documents: steps.X.exitCode and steps.X.outputs.exitCode."""
        doc = steps_workflow()
        doc["spec"]["templates"][0]["steps"][1][1]["arguments"]["parameters"][0]["value"] = (
            "{{steps.a.exitCode}} {{steps.a.outputs.exitCode}}"
        )
        assert problems(doc) == []

    def test_result_of_a_dag_task(self) -> None:
        """A DAG template has no outputs.result."""
        doc = workflow()
        doc["spec"]["templates"].append({"name": "inner", "dag": {"tasks": [tasks(doc)[0]]}})
        tasks(doc)[0]["template"] = "inner"
        del tasks(doc)[0]["arguments"]
        only(
            doc,
            "unresolved-tag",
            "spec.templates[0].dag.tasks[1].arguments.parameters[0].value",
            "{{tasks.a.outputs.result}}: template 'inner' of task 'a' is a dag template and "
            "has no outputs.result",
        )

    def test_step_of_the_same_group(self) -> None:
        """Steps of one group run in parallel: they cannot see each other."""
        doc = steps_workflow()
        doc["spec"]["templates"][0]["steps"][1][1]["arguments"]["parameters"][0]["value"] = (
            "{{steps.b.outputs.result}}"
        )
        only(
            doc,
            "unresolved-tag",
            "spec.templates[0].steps[1][1].arguments.parameters[0].value",
            "{{steps.b.outputs.result}} refers to step 'b', which is not a step of an earlier "
            "step group",
        )

    def test_expression_references(self) -> None:
        """{{=...}} expressions: tasks, inputs and workflow parameters are looked up."""
        doc = workflow()
        tasks(doc)[1]["when"] = (
            "{{=tasks.c.outputs.result == 'x' && inputs.parameters['y'] != workflow.parameters.z}}"
        )
        where = "spec.templates[0].dag.tasks[1].when"
        assert problems(doc) == [
            LintProblem(
                "unresolved-tag",
                where,
                "'tasks.c' (in a {{=...}} expression) refers to task 'c', which is not a task "
                "of DAG template 'main'",
            ),
            LintProblem(
                "unresolved-tag",
                where,
                "'inputs.parameters.y' (in a {{=...}} expression) names no input parameter of "
                "template 'main' (inputs.parameters: none)",
            ),
            LintProblem(
                "unresolved-tag",
                where,
                "'workflow.parameters.z' (in a {{=...}} expression) names no workflow "
                "parameter (spec.arguments.parameters: 'greeting')",
            ),
        ]

    def test_spec_level_scope(self) -> None:
        """Outside templates only workflow variables exist."""
        doc = workflow()
        doc["spec"]["hooks"] = {
            "exit": {
                "template": "echo",
                "arguments": {
                    "parameters": [{"name": "message", "value": "{{inputs.parameters.x}}"}]
                },
            }
        }
        only(
            doc,
            "unresolved-tag",
            "spec.hooks.exit.arguments.parameters[0].value",
            "{{inputs.parameters.x}} is only defined inside a template",
        )

    def test_with_items_keys(self) -> None:
        """withItems of objects define item.<key> for their keys only."""
        doc = workflow()
        tasks(doc)[1]["withItems"] = [{"k": 1}]
        tasks(doc)[1]["arguments"]["parameters"][0]["value"] = "{{item}} {{item.j}} {{item.k}}"
        where = "spec.templates[0].dag.tasks[1].arguments.parameters[0].value"
        assert problems(doc) == [
            LintProblem(
                "unresolved-tag",
                where,
                "{{item}}: the withItems items are objects or lists; use {{item.<key>}}",
            ),
            LintProblem(
                "unresolved-tag",
                where,
                "{{item.j}}: no withItems item has the key 'j' (keys: 'k')",
            ),
        ]

    def test_metric_variables_only_in_metrics(self) -> None:
        """{{duration}} exists in a template's metrics, nowhere else."""
        doc = workflow()
        echo(doc)["container"]["args"] = ["{{duration}}"]
        only(
            doc,
            "unresolved-tag",
            "spec.templates[1].container.args[0]",
            "{{duration}} is not a variable Argo defines here",
        )

    def test_inline_template_scope(self) -> None:
        """An inline template has its own inputs."""
        doc = workflow()
        tasks(doc).append(
            {
                "name": "c",
                "depends": "b",
                "inline": {"container": {"image": "alpine:3", "args": ["{{inputs.parameters.q}}"]}},
            }
        )
        only(
            doc,
            "unresolved-tag",
            "spec.templates[0].dag.tasks[2].inline.container.args[0]",
            "{{inputs.parameters.q}} names no input parameter of template 'c/inline' "
            "(inputs.parameters: none)",
        )


class TestItemOutsideLoop:
    """item-outside-loop: {{item}} only where a loop is defined."""

    def test_item_without_loop(self) -> None:
        """Task b has no withItems."""
        doc = workflow()
        tasks(doc)[1]["arguments"]["parameters"][0]["value"] = "{{item}}"
        only(
            doc,
            "item-outside-loop",
            "spec.templates[0].dag.tasks[1].arguments.parameters[0].value",
            "{{item}} is used outside a loop (no withItems, withParam or withSequence here)",
        )

    def test_item_in_a_leaf_template(self) -> None:
        """Templates never see item: the task passes it as an argument."""
        doc = workflow()
        echo(doc)["container"]["args"] = ["{{item.name}}"]
        only(
            doc,
            "item-outside-loop",
            "spec.templates[1].container.args[0]",
            "{{item.name}} is used outside a loop (no withItems, withParam or withSequence here)",
        )


class TestMissingDependency:
    """missing-dependency: tasks.X is used only after X ran."""

    def test_reference_without_dependency(self) -> None:
        """b uses a's result but does not depend on a."""
        doc = workflow()
        del tasks(doc)[1]["depends"]
        only(
            doc,
            "missing-dependency",
            "spec.templates[0].dag.tasks[1].arguments.parameters[0].value",
            "task 'b' uses {{tasks.a.outputs.result}} but does not depend on 'a' (directly or "
            "through its dependencies), so Argo cannot resolve it; add 'a' to its depends",
        )

    def test_transitive_dependency_is_enough(self) -> None:
        """c depends on b, b on a: c may use a's outputs."""
        doc = workflow()
        tasks(doc).append(
            {
                "name": "c",
                "template": "echo",
                "depends": "b.Succeeded || b.Failed",
                "arguments": {
                    "parameters": [{"name": "message", "value": "{{tasks.a.outputs.result}}"}]
                },
            }
        )
        assert problems(doc) == []

    def test_when_and_expressions(self) -> None:
        """`when` is resolved before the task runs too, also inside {{=...}}."""
        doc = workflow()
        tasks(doc).append(
            {
                "name": "c",
                "template": "echo",
                "depends": "a",
                "when": "{{=tasks['b'].outputs.result == 'x'}}",
                "arguments": {"parameters": [{"name": "message", "value": "x"}]},
            }
        )
        only(
            doc,
            "missing-dependency",
            "spec.templates[0].dag.tasks[2].when",
            "task 'c' uses 'tasks.b' (in a {{=...}} expression) but does not depend on 'b' "
            "(directly or through its dependencies), so Argo cannot resolve it; add 'b' to its "
            "depends",
        )

    def test_dag_outputs_may_use_any_task(self) -> None:
        """The DAG template's own outputs are read after every task ran."""
        doc = workflow()
        doc["spec"]["templates"][0]["outputs"] = {
            "parameters": [{"name": "r", "valueFrom": {"parameter": "{{tasks.a.outputs.result}}"}}]
        }
        assert problems(doc) == []


class TestLoopExclusive:
    """loop-exclusive: one loop kind per task; withSequence has count or end."""

    def test_items_and_param(self) -> None:
        """withItems and withParam together."""
        doc = workflow()
        tasks(doc)[1]["withItems"] = ["x"]
        tasks(doc)[1]["withParam"] = "[1, 2]"
        only(
            doc,
            "loop-exclusive",
            "spec.templates[0].dag.tasks[1]",
            "task 'b' uses withItems and withParam; only one of withItems, withParam, "
            "withSequence can be given",
        )

    def test_sequence_count_and_end(self) -> None:
        """count and end together."""
        doc = workflow()
        tasks(doc)[1]["withSequence"] = {"count": "2", "end": "3"}
        only(
            doc,
            "loop-exclusive",
            "spec.templates[0].dag.tasks[1].withSequence",
            "task 'b' has a withSequence with both count and end; give one",
        )


class TestEnumValue:
    """enum-value: enums are not empty and hold the value and the default."""

    def test_value_not_in_enum(self) -> None:
        """A workflow parameter's value."""
        doc = workflow()
        doc["spec"]["arguments"]["parameters"][0]["enum"] = ["hello"]
        only(
            doc,
            "enum-value",
            "spec.arguments.parameters[0].value",
            "parameter 'greeting' has value 'hi', which is not in its enum ['hello']",
        )

    def test_default_not_in_enum(self) -> None:
        """A template input's default; numbers compare as the text Argo holds."""
        doc = workflow()
        echo(doc)["inputs"]["parameters"][0].update({"enum": [1, 2], "default": "3"})
        only(
            doc,
            "enum-value",
            "spec.templates[1].inputs.parameters[0].default",
            "parameter 'message' has default '3', which is not in its enum ['1', '2']",
        )

    def test_empty_enum(self) -> None:
        """An empty enum allows nothing."""
        doc = workflow()
        doc["spec"]["arguments"]["parameters"][0]["enum"] = []
        only(
            doc,
            "enum-value",
            "spec.arguments.parameters[0].enum",
            "parameter 'greeting' has an empty enum",
        )

    def test_argument_not_in_template_enum(self) -> None:
        """A literal argument checked against the called template's enum."""
        doc = workflow()
        echo(doc)["inputs"]["parameters"][0]["enum"] = ["x", "y"]
        tasks(doc)[1]["arguments"]["parameters"][0]["value"] = "z"
        only(
            doc,
            "enum-value",
            "spec.templates[0].dag.tasks[1].arguments.parameters[0].value",
            "argument 'message' has value 'z', which is not in the template's enum ['x', 'y']",
        )


class TestArgumentValue:
    """argument-value: task and step arguments have a value."""

    def test_no_value(self) -> None:
        """An argument with a name only."""
        doc = workflow()
        tasks(doc)[1]["arguments"]["parameters"][0] = {"name": "message"}
        only(
            doc,
            "argument-value",
            "spec.templates[0].dag.tasks[1].arguments.parameters[0]",
            "task 'b' passes parameter 'message' without a value or valueFrom",
        )

    def test_output_only_value_from(self) -> None:
        """valueFrom.path is for outputs, not arguments."""
        doc = workflow()
        tasks(doc)[1]["arguments"]["parameters"][0] = {
            "name": "message",
            "valueFrom": {"path": "/tmp/x"},
        }
        only(
            doc,
            "argument-value",
            "spec.templates[0].dag.tasks[1].arguments.parameters[0].valueFrom",
            "task 'b' passes parameter 'message' with a valueFrom that an argument cannot use "
            "(allowed: default, configMapKeyRef, event, supplied)",
        )

    def test_workflow_arguments_may_be_empty(self) -> None:
        """A workflow parameter without value is supplied at submission."""
        doc = workflow()
        doc["spec"]["arguments"]["parameters"].append({"name": "later"})
        assert problems(doc) == []


class TestMissingArgument:
    """missing-argument: required inputs are supplied by every caller."""

    def test_task_without_required_input(self) -> None:
        """b calls echo without message."""
        doc = workflow()
        del tasks(doc)[1]["arguments"]
        only(
            doc,
            "missing-argument",
            "spec.templates[0].dag.tasks[1]",
            "task 'b' calls template 'echo' without its required input parameter(s) 'message' "
            "(no value or default in the template)",
        )

    def test_default_makes_it_optional(self) -> None:
        """An input with a default need not be passed."""
        doc = workflow()
        echo(doc)["inputs"]["parameters"][0]["default"] = "x"
        del tasks(doc)[1]["arguments"]
        assert problems(doc) == []

    def test_entrypoint_inputs_come_from_spec_arguments(self) -> None:
        """The entrypoint's required inputs are workflow parameters."""
        doc = workflow()
        doc["spec"]["entrypoint"] = "echo"
        only(
            doc,
            "missing-argument",
            "spec.arguments.parameters",
            "entrypoint template 'echo' requires input parameter(s) 'message', which "
            "spec.arguments.parameters does not declare",
        )

    def test_hook_without_required_input(self) -> None:
        """A spec-level hook calls echo without message."""
        doc = workflow()
        doc["spec"]["hooks"] = {
            "running": {"template": "echo", "expression": "workflow.status == 'Running'"}
        }
        only(
            doc,
            "missing-argument",
            "spec.hooks.running",
            "hook 'running' calls template 'echo' without its required input parameter(s) "
            "'message' (no value or default in the template)",
        )


class TestUnknownArgument:
    """unknown-argument: arguments name inputs the template declares."""

    def test_extra_parameter(self) -> None:
        """b passes 'extra', which echo does not declare."""
        doc = workflow()
        tasks(doc)[1]["arguments"]["parameters"].append({"name": "extra", "value": "1"})
        only(
            doc,
            "unknown-argument",
            "spec.templates[0].dag.tasks[1].arguments.parameters[1]",
            "task 'b' passes parameter 'extra', which template 'echo' does not declare "
            "(inputs.parameters: 'message')",
        )

    def test_extra_artifact(self) -> None:
        """Artifacts are checked the same way."""
        doc = workflow()
        tasks(doc)[1]["arguments"]["artifacts"] = [{"name": "data", "from": "x"}]
        only(
            doc,
            "unknown-argument",
            "spec.templates[0].dag.tasks[1].arguments.artifacts[0]",
            "task 'b' passes artifact 'data', which template 'echo' does not declare "
            "(inputs.artifacts: none)",
        )


class TestOutputValue:
    """output-value: one value source per output parameter, of the right kind."""

    @pytest.mark.parametrize(
        ("parameter", "path", "message"),
        [
            (
                {"name": "o", "value": "1", "valueFrom": {"path": "/x"}},
                "spec.templates[1].outputs.parameters[0]",
                "output parameter 'o' of template 'echo' has both value and valueFrom; keep one",
            ),
            (
                {"name": "o"},
                "spec.templates[1].outputs.parameters[0]",
                "output parameter 'o' of template 'echo' has neither value nor valueFrom",
            ),
            (
                {"name": "o", "valueFrom": {"path": "/x", "parameter": "y"}},
                "spec.templates[1].outputs.parameters[0].valueFrom",
                "output parameter 'o' of template 'echo' needs exactly one valueFrom source "
                "(path, jqFilter, jsonPath, parameter, expression, supplied), got path, parameter",
            ),
            (
                {"name": "o", "valueFrom": {"default": "x"}},
                "spec.templates[1].outputs.parameters[0].valueFrom",
                "output parameter 'o' of template 'echo' needs exactly one valueFrom source "
                "(path, jqFilter, jsonPath, parameter, expression, supplied), got none",
            ),
            (
                {"name": "o", "valueFrom": {"parameter": "y"}},
                "spec.templates[1].outputs.parameters[0].valueFrom",
                "output parameter 'o' of template 'echo' reads valueFrom.parameter, which a "
                "container template cannot provide (use path)",
            ),
        ],
    )
    def test_invalid(self, parameter: dict[str, Any], path: str, message: str) -> None:
        """Each broken output parameter of a container template."""
        doc = workflow()
        echo(doc)["outputs"] = {"parameters": [parameter]}
        only(doc, "output-value", path, message)


class TestObjectSize:
    """object-size: at most 1 MiB as compact JSON."""

    def test_too_large(self) -> None:
        """A megabyte of arguments is over the limit; the size is in the message."""
        doc = workflow()
        echo(doc)["container"]["args"] = ["x" * MAX_OBJECT_BYTES]
        (problem,) = problems(doc)
        assert problem.rule == "object-size"
        assert problem.path == "(root)"
        assert problem.message.startswith("the manifest is 1,049,")
        assert problem.message.endswith(
            " bytes as compact JSON, over the 1,048,576 bytes Kubernetes can store for one object"
        )

    def test_counts_utf8_bytes(self) -> None:
        """Non-ASCII text counts as its UTF-8 bytes, not as characters."""
        doc = workflow()
        echo(doc)["container"]["args"] = ["é" * (MAX_OBJECT_BYTES // 2)]  # 1 MiB in UTF-8
        assert [p.rule for p in problems(doc)] == ["object-size"]
        echo(doc)["container"]["args"] = ["é" * (MAX_OBJECT_BYTES // 4)]
        assert problems(doc) == []


class TestCronSchedule:
    """cron-schedule: robfig/cron's standard parser, as Argo uses it."""

    @pytest.mark.parametrize(
        "schedule",
        [
            "0 3 * * *",
            "*/15 9-17 * JAN-DEC MON-FRI",
            "0 0 ? * sun",
            "5/10 * * * *",
            "0,30 * 1,15 * 1-5",
            "@daily",
            "@every 1h30m",
            "CRON_TZ=Asia/Tokyo 0 6 * * *",
        ],
    )
    def test_valid(self, schedule: str) -> None:
        """Fields, ranges, steps, lists, names, '?', descriptors and a time zone prefix."""
        doc = cron_workflow()
        doc["spec"]["schedules"] = [schedule]
        assert problems(doc) == []

    # The messages are flowdsl.scheduling.cron_problem's: one parser for schedules a flow
    # declares and for the manifests the lint checks.
    @pytest.mark.parametrize(
        ("schedule", "reason"),
        [
            (
                "0 0 3 * * *",
                "cron line '0 0 3 * * *' has 6 fields; Argo's cron has exactly 5 (minute hour "
                "day-of-month month day-of-week) and no seconds field",
            ),
            ("60 * * * *", "cron line '60 * * * *': minute '60': 60 is out of range 0-59"),
            ("* 24 * * *", "cron line '* 24 * * *': hour '24': 24 is out of range 0-23"),
            ("* * 0 * *", "cron line '* * 0 * *': day-of-month '0': 0 is out of range 1-31"),
            ("* * * 13 *", "cron line '* * * 13 *': month '13': 13 is out of range 1-12"),
            (
                "* * * * 7",
                "cron line '* * * * 7': day-of-week '7' is out of range 0-6 (Argo numbers "
                "Sunday 0, not 7)",
            ),
            (
                "*/0 * * * *",
                "cron line '*/0 * * * *': minute '*/0': the step of '*/0' must be a whole "
                "number, 1 or more",
            ),
            (
                "5-2 * * * *",
                "cron line '5-2 * * * *': minute '5-2': the range '5-2' starts after it ends",
            ),
            (
                "1-2-3 * * * *",
                "cron line '1-2-3 * * * *': minute '1-2-3': too many hyphens in '1-2-3'",
            ),
            (
                "1/2/3 * * * *",
                "cron line '1/2/3 * * * *': minute '1/2/3': too many slashes in '1/2/3'",
            ),
            ("a * * * *", "cron line 'a * * * *': minute 'a': 'a' is not a number"),
            (
                "* * * * FOO",
                "cron line '* * * * FOO': day-of-week 'FOO': 'FOO' is not a number or a name",
            ),
            (
                "@every 1x",
                "cron line '@every 1x': '1x' is not a Go duration (a duration needs a unit: s, "
                "m or h)",
            ),
            ("@sometimes", "cron line '@sometimes' is not a known descriptor"),
            ("CRON_TZ=Mars/Olympus 0 6 * * *", "'Mars/Olympus' is not an IANA time zone name"),
            ("", "the cron line is empty"),
        ],
    )
    def test_invalid(self, schedule: str, reason: str) -> None:
        """The message names the field and what is wrong with it."""
        doc = cron_workflow()
        doc["spec"]["schedules"] = ["@hourly", schedule]
        only(
            doc,
            "cron-schedule",
            "spec.schedules[1]",
            f"cron schedule {schedule!r} is malformed: {reason}",
        )

    def test_no_schedules(self) -> None:
        """Argo v4 needs a non-empty list."""
        doc = cron_workflow()
        doc["spec"]["schedules"] = []
        only(
            doc,
            "cron-schedule",
            "spec.schedules",
            "a CronWorkflow needs a non-empty spec.schedules list (Argo v4), got []",
        )


class TestCronConcurrency:
    """cron-concurrency: Allow, Forbid or Replace."""

    def test_unknown_policy(self) -> None:
        """'Sometimes' is not a policy."""
        doc = cron_workflow()
        doc["spec"]["concurrencyPolicy"] = "Sometimes"
        only(
            doc,
            "cron-concurrency",
            "spec.concurrencyPolicy",
            "concurrencyPolicy must be one of Allow, Forbid, Replace, got 'Sometimes'",
        )


class TestCronTimezone:
    """cron-timezone: an IANA time zone name."""

    @pytest.mark.parametrize("zone", ["Europe/Pariss", "../etc/passwd"])
    def test_unknown_zone(self, zone: str) -> None:
        """A misspelt zone, and a path that is no zone name."""
        doc = cron_workflow()
        doc["spec"]["timezone"] = zone
        only(
            doc,
            "cron-timezone",
            "spec.timezone",
            f"timezone {zone!r} is not an IANA time zone name (e.g. 'Europe/Paris')",
        )


class TestCronDeadline:
    """cron-deadline: startingDeadlineSeconds is not negative."""

    def test_negative(self) -> None:
        """-1 second."""
        doc = cron_workflow()
        doc["spec"]["startingDeadlineSeconds"] = -1
        only(
            doc,
            "cron-deadline",
            "spec.startingDeadlineSeconds",
            "startingDeadlineSeconds must be 0 or more, got -1",
        )


class TestMalformedInput:
    """Shapes the schema rejects never crash the lint."""

    def test_wrong_shapes(self) -> None:
        """Strings where mappings belong, None templates, numbers as names."""
        doc = {
            "kind": "Workflow",
            "metadata": {"name": "x"},
            "spec": {
                "entrypoint": "m",
                "arguments": "oops",
                "templates": [
                    {
                        "name": "m",
                        "dag": {
                            "tasks": [
                                1,
                                {"name": None},
                                {"name": "a", "depends": 5, "arguments": []},
                            ]
                        },
                    },
                    None,
                ],
            },
        }
        rules = [p.rule for p in problems(doc)]
        assert rules == [
            "field-name",
            "field-name",
            "field-name",
            "template-ref",
            "template-ref",
            "template-ref",
            "template-type",
        ]
