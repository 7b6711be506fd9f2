"""spec.templateDefaults: Argo's merge (lint, local engine) and what flowdsl hoists there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import flowdsl
import flowdsl.lower
from flowdsl import Resources, compile_dict, flow, task
from flowdsl._target import load_flow
from flowdsl._template_defaults import merge_template_defaults

from argo_oracle import assert_valid_argo, templates_as_run
from conftest import ROOT


class TestMerge:
    def test_env_merges_by_name_defaults_first(self) -> None:
        """A strategic merge: the template's entry wins for its name, new ones come after."""
        defaults = {
            "container": {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
        }
        template = {
            "name": "t",
            "container": {
                "image": "i",
                "env": [{"name": "C", "value": "3"}, {"name": "A", "value": "9"}],
            },
        }
        merged = merge_template_defaults(defaults, template)
        assert merged["container"]["env"] == [
            {"name": "A", "value": "9"},
            {"name": "B", "value": "2"},
            {"name": "C", "value": "3"},
        ]
        assert template["container"]["env"][0] == {"name": "C", "value": "3"}  # unchanged

    def test_maps_merge_and_unkeyed_lists_are_replaced(self) -> None:
        defaults = {
            "container": {
                "command": ["python", "-m", "x"],
                "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
                "volumeMounts": [{"name": "a", "mountPath": "/a"}],
            }
        }
        template = {
            "name": "t",
            "container": {
                "image": "i",
                "command": ["sh"],
                "resources": {"requests": {"cpu": "2"}},
                "volumeMounts": [{"name": "b", "mountPath": "/b"}],
            },
        }
        body = merge_template_defaults(defaults, template)["container"]
        assert body["command"] == ["sh"]
        assert body["resources"] == {"requests": {"cpu": "2", "memory": "1Gi"}}
        assert body["volumeMounts"] == [
            {"name": "a", "mountPath": "/a"},
            {"name": "b", "mountPath": "/b"},
        ]

    def test_only_the_templates_own_type_survives(self) -> None:
        """Template.SetType: a container default reaches neither a DAG nor a script template;
        template-level defaults reach every template."""
        defaults = {"activeDeadlineSeconds": 5, "container": {"image": "i", "command": ["c"]}}
        dag = merge_template_defaults(defaults, {"name": "d", "dag": {"tasks": []}})
        assert dag == {"activeDeadlineSeconds": 5, "name": "d", "dag": {"tasks": []}}
        script = merge_template_defaults(
            defaults, {"name": "s", "script": {"image": "i", "source": "x"}}
        )
        assert "container" not in script
        untyped = merge_template_defaults(defaults, {"name": "u"})
        assert untyped["container"] == {"image": "i", "command": ["c"]}  # GetType was Unknown


@task
def first(x: int) -> int:
    return x + 1


@task(resources=Resources(cpu="2"))
def second(x: int) -> int:
    return x * 2


@task(env={"SHARED": "yes", "REF": "$(SHARED)-x"})
def third(x: int) -> int:
    return x - 1


class TestHoist:
    def test_shared_container_fields_move_once(self) -> None:
        """What all leaves share is written once; what differs stays on each template."""

        @flow(image="img", code="import", env={"SHARED": "yes", "REF": "$(SHARED)-x"})
        def f(x: int = 1) -> int:
            return third(second(first(x)))

        doc = compile_dict(f)
        assert_valid_argo(doc)
        defaults = doc["spec"]["templateDefaults"]
        assert set(defaults) == {"container"}
        body = defaults["container"]
        assert body["command"] == ["python", "-m", "flowdsl.runtime"]
        assert body["imagePullPolicy"] == "IfNotPresent"
        assert "resources" not in body  # second asks for 2 CPUs: not shared
        names = [e["name"] for e in body["env"]]
        assert "SHARED" in names
        assert "FLOWDSL_POD" in names
        assert "REF" not in names  # refers to another variable: kept in order, per template
        raw = {t["name"]: t for t in doc["spec"]["templates"]}
        assert "command" not in raw["first"]["container"]
        assert raw["second"]["container"]["resources"]["requests"]["cpu"] == "2"
        assert raw["first"]["container"]["resources"]["requests"]["cpu"] == "500m"
        env = [e["name"] for e in raw["third"]["container"]["env"]]
        assert "REF" in env
        assert "SHARED" not in env

    def test_each_template_keeps_its_own_image(self) -> None:
        """The defaults need an image (the schema requires one); every template's own wins."""
        gpu = first.options(image="registry/gpu:2")

        @flow(image="registry/cpu:1", code="import")
        def f(x: int = 1) -> int:
            return second(gpu(x))

        doc = compile_dict(f)
        assert_valid_argo(doc)
        assert doc["spec"]["templateDefaults"]["container"]["image"] == "registry/gpu:2"
        images = {
            name: t["container"]["image"]
            for name, t in templates_as_run(doc).items()
            if "container" in t
        }
        assert images == {"first": "registry/gpu:2", "second": "registry/cpu:1"}

    def test_one_leaf_has_no_defaults(self) -> None:
        @flow(image="img", code="import")
        def f(x: int = 1) -> int:
            return first(x)

        assert "templateDefaults" not in compile_dict(f)["spec"]

    def test_container_and_script_leaves_get_their_own_defaults(self) -> None:
        """Script templates need script defaults: a container default never reaches them."""
        doc = compile_dict(load_flow(str(ROOT / "examples" / "quickstart.py")))
        assert_valid_argo(doc)
        defaults = doc["spec"]["templateDefaults"]
        assert set(defaults) == {"script"}
        assert defaults["script"]["source"] == ""  # required by the schema; never used
        for template in templates_as_run(doc).values():
            if "script" in template:
                assert template["script"]["command"] == ["python", "-m", "flowdsl.runtime"]


EXAMPLES = sorted(
    str(path.relative_to(ROOT / "examples"))
    for path in (ROOT / "examples").rglob("*.py")
    if not path.name.startswith("_")
)


def _comparable(templates: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Env order aside (the merge puts defaults first), templates as each pod gets them."""
    for template in templates.values():
        for kind in ("container", "script"):
            body = template.get(kind)
            if body and "env" in body:
                body["env"] = sorted(body["env"], key=lambda e: e["name"])
    return templates


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_pod_gets_what_it_had(example: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiled with and without hoisting, every template merged as Argo merges it is the same."""
    target = load_flow(str(ROOT / "examples" / example))
    hoisted = templates_as_run(compile_dict(target))
    monkeypatch.setattr(flowdsl.lower, "hoist_template_defaults", lambda templates: None)
    plain = compile_dict(target)
    assert "templateDefaults" not in plain["spec"]
    assert _comparable(hoisted) == _comparable(templates_as_run(plain))


def test_a_hoisted_flow_runs_locally(tmp_path: Path) -> None:
    """The local engine merges the defaults: the runtime command and the context arrive."""

    @flow(image="img")
    def f(x: int = 1) -> int:
        return second(first(x))

    assert "templateDefaults" in compile_dict(f)["spec"]
    run = flowdsl.run(f, params={"x": 4}, progress="off", run_dir=tmp_path / "r")
    assert run.result == 10
