"""Execution options in the manifest: precedence, built-in defaults, each Argo field, and the
errors a user meets (task, option and a valid form named)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from flowdsl import compile_dict, flow, task
from flowdsl.config import parse_config
from flowdsl.errors import CompileError, OptionError
from flowdsl.options import Cache, ConfigMapKey, Resources, Secret, Toleration, Volume

from argo_oracle import assert_valid_argo, templates_as_run

PROJECT = parse_config(
    {
        "image": "registry/project:1",
        "timeout": "3h",
        "resources": {"cpu": "1", "memory": "2Gi"},
        "env": {"STAGE": "prod", "LOG_LEVEL": "info"},
        "node_selector": {"pool": "batch"},
        "labels": {"team": "ml"},
        "pod_gc": "OnWorkflowSuccess",
        "profiles": {
            "gpu": {
                "resources": {"cpu": "8", "gpu": 2},
                "node_selector": {"pool": "gpu"},
                "tolerations": [
                    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
                ],
            },
        },
    }
)


@task
def step(x: int) -> int:
    return x + 1


@task(profile="gpu", env={"LOG_LEVEL": "debug"})
def train(x: int) -> int:
    return x * 2


def templates(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The templates as each pod gets them (merged with spec.templateDefaults)."""
    return templates_as_run(doc)


def body(template: dict[str, Any]) -> dict[str, Any]:
    return template.get("script") or template["container"]


def env(template: dict[str, Any]) -> dict[str, Any]:
    return {
        e["name"]: e.get("value", e.get("valueFrom"))
        for e in body(template)["env"]
        if not e["name"].startswith("FLOWDSL_")
    }


class TestPrecedence:
    def test_levels(self) -> None:
        """call .options() > decorator > profile > flow > project > built-in defaults."""

        @flow(env={"STAGE": "flow"}, timeout="1h")
        def f() -> None:
            step(1)
            train(2)
            train.options(resources=Resources(memory="64Gi"), timeout="5h")(3)

        doc = compile_dict(f, config=PROJECT)
        assert_valid_argo(doc)
        t = templates(doc)
        # step: flow > project > built-in
        assert body(t["step"])["image"] == "registry/project:1"
        assert t["step"]["activeDeadlineSeconds"] == 3600
        assert body(t["step"])["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"}}
        assert env(t["step"]) == {"STAGE": "flow", "LOG_LEVEL": "info"}
        assert body(t["step"])["imagePullPolicy"] == "IfNotPresent"
        assert t["step"]["nodeSelector"] == {"pool": "batch"}
        # train: decorator env > profile > flow; profile resources over the project's
        assert env(t["train"]) == {"STAGE": "flow", "LOG_LEVEL": "debug"}
        assert body(t["train"])["resources"] == {
            "requests": {"cpu": "8", "memory": "2Gi", "nvidia.com/gpu": "2"},
            "limits": {"nvidia.com/gpu": "2"},
        }
        assert t["train"]["nodeSelector"] == {"pool": "gpu"}  # replaced whole, not merged
        assert t["train"]["tolerations"] == [
            {"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}
        ]
        # the call-site variant: its own template, memory from the call, cpu from the profile
        assert body(t["train-2"])["resources"]["requests"] == {
            "cpu": "8",
            "memory": "64Gi",
            "nvidia.com/gpu": "2",
        }
        assert t["train-2"]["activeDeadlineSeconds"] == 18000
        # workflow level
        assert doc["spec"]["podGC"] == {"strategy": "OnWorkflowSuccess"}
        assert doc["spec"]["activeDeadlineSeconds"] == 86400
        assert doc["metadata"]["labels"] == {"team": "ml", "flowdsl/flow": "f"}

    def test_built_in_defaults(self) -> None:
        """With no configuration: pod GC, deadlines, modest requests, pull policy."""

        @flow(image="img")
        def f() -> None:
            step(1)

        doc = compile_dict(f, config=parse_config({}))
        t = templates(doc)["step"]
        # A failed pod stays, so its logs can be read; a succeeded one goes at once.
        assert doc["spec"]["podGC"] == {"strategy": "OnPodSuccess"}
        assert doc["spec"]["activeDeadlineSeconds"] == 86400
        assert t["activeDeadlineSeconds"] == 14400
        assert body(t)["resources"] == {"requests": {"cpu": "500m", "memory": "512Mi"}}
        assert body(t)["imagePullPolicy"] == "IfNotPresent"
        assert "retryStrategy" not in t


class TestFields:
    def test_secrets_are_references(self) -> None:
        """Secret and ConfigMapKey become valueFrom references; no value is in the manifest."""

        @task(
            secrets={"TOKEN": Secret("deploy-credentials", "token")},
            env={"REGION": ConfigMapKey("cluster-info", "region"), "MODE": "fast"},
        )
        def deploy() -> None: ...

        @flow(image="img")
        def f() -> None:
            deploy()

        doc = compile_dict(f, config=parse_config({}))
        assert_valid_argo(doc)
        assert env(templates(doc)["deploy"]) == {
            "REGION": {"configMapKeyRef": {"name": "cluster-info", "key": "region"}},
            "MODE": "fast",
            "TOKEN": {"secretKeyRef": {"name": "deploy-credentials", "key": "token"}},
        }

    def test_volumes(self) -> None:
        """Flow volumes are mounted everywhere; claims become volumeClaimTemplates."""

        @task(
            volumes=[
                Volume.empty_dir("/scratch", name="scratch", medium="Memory"),
                Volume.secret("tls-cert", "/etc/tls"),
                Volume.config_map("settings", "/etc/settings"),
            ]
        )
        def work() -> None: ...

        @flow(
            image="img",
            volumes=[
                Volume.pvc("datasets", "/data", read_only=True),
                Volume.claim("5Gi", "/work", name="workspace"),
            ],
        )
        def f() -> None:
            work()

        doc = compile_dict(f, config=parse_config({}))
        assert_valid_argo(doc)
        spec = doc["spec"]
        assert spec["volumes"] == [
            {
                "name": "datasets",
                "persistentVolumeClaim": {"claimName": "datasets", "readOnly": True},
            }
        ]
        assert spec["volumeClaimTemplates"][0]["metadata"] == {"name": "workspace"}
        template = templates(doc)["work"]
        assert [v["name"] for v in template["volumes"]] == ["scratch", "tls-cert", "settings"]
        assert [(v["name"], v["mountPath"]) for v in body(template)["volumeMounts"]] == [
            ("datasets", "/data"),
            ("workspace", "/work"),
            ("scratch", "/scratch"),
            ("tls-cert", "/etc/tls"),
            ("settings", "/etc/settings"),
        ]

    def test_cache_is_memoize(self) -> None:
        """cache=True / Cache(...) become memoize with a key from code, version and inputs."""

        @task(cache=Cache(max_age="12h", version="2"))
        def expensive(x: int, name: str) -> int:
            return x

        @task(cache=True)
        def constant() -> int:
            return 1

        @flow(image="img")
        def cached() -> None:
            expensive(constant(), "a")

        doc = compile_dict(cached, config=parse_config({}))
        assert_valid_argo(doc)
        memo = templates(doc)["expensive"]["memoize"]
        assert re.fullmatch(
            r"expensive-[0-9a-f]{12}-v2-\{\{=sprig\.sha256sum\(inputs\.parameters\['x'\] "
            r"\+ '\|' \+ inputs\.parameters\['name'\]\)\}\}",
            memo["key"],
        )
        assert memo["maxAge"] == "12h"
        assert memo["cache"] == {"configMap": {"name": "flowdsl-cache-cached"}}
        plain = templates(doc)["constant"]["memoize"]
        assert re.fullmatch(r"constant-[0-9a-f]{12}-v1", plain["key"])
        assert plain["maxAge"] == "87600h"

    def test_concurrency_and_workflow_options(self) -> None:
        """max_concurrent=1 is a mutex, more a semaphore; other workflow-level fields."""

        @flow(
            image="img",
            max_concurrent=1,
            service_account="runner",
            priority_class="batch-low",
            parallelism=3,
            workflow_timeout="6h",
            labels={"owner": "data"},
            annotations={"docs": "https://wiki/flows"},
        )
        def f() -> None:
            step(1)

        doc = compile_dict(f, config=parse_config({}))
        assert_valid_argo(doc)
        spec = doc["spec"]
        assert spec["synchronization"] == {"mutexes": [{"name": "f"}]}
        assert spec["serviceAccountName"] == "runner"
        assert spec["podPriorityClassName"] == "batch-low"
        assert spec["parallelism"] == 3
        assert spec["activeDeadlineSeconds"] == 21600
        assert doc["metadata"]["labels"] == {"owner": "data", "flowdsl/flow": "f"}
        assert doc["metadata"]["annotations"] == {"docs": "https://wiki/flows"}

        @flow(image="img", max_concurrent=3)
        def g() -> None:
            step(1)

        assert compile_dict(g, config=parse_config({}))["spec"]["synchronization"] == {
            "semaphores": [{"configMapKeyRef": {"name": "flowdsl-semaphores", "key": "g"}}]
        }

    def test_task_scheduling_fields(self) -> None:
        """Tolerations, affinity, labels, priority class, service account on the template."""
        affinity = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                    ]
                }
            }
        }

        @task(
            tolerations=[Toleration("spot", "Equal", "true", "NoExecute", seconds=60)],
            affinity=affinity,
            labels={"cost-center": "42"},
            priority_class="high",
            service_account="deployer",
        )
        def placed() -> None: ...

        @flow(image="img")
        def f() -> None:
            placed()

        doc = compile_dict(f, config=parse_config({}))
        assert_valid_argo(doc)
        t = templates(doc)["placed"]
        assert t["tolerations"] == [
            {
                "effect": "NoExecute",
                "key": "spot",
                "operator": "Equal",
                "tolerationSeconds": 60,
                "value": "true",
            }
        ]
        assert json.dumps(t["affinity"], sort_keys=True) == json.dumps(affinity, sort_keys=True)
        assert t["metadata"] == {"labels": {"cost-center": "42"}}
        assert t["priorityClassName"] == "high"
        assert t["serviceAccountName"] == "deployer"


class TestBadInput:
    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (
                {"retry": 3},
                "unknown option 'retry'; did you mean 'retries'? valid options:",
            ),
            (
                {"pod_gc": "OnPodSuccess"},
                "option 'pod_gc' applies to a whole workflow, not to one task; set it on the "
                "flow: @flow(pod_gc=...)",
            ),
            (
                {"secrets": {"TOKEN": "s3cr3t"}},
                "option 'secrets': 'TOKEN' is given a plain string",
            ),
            (
                {"timeout": "2 hours"},
                "option 'timeout' is not a duration: '2 hours'",
            ),
        ],
        ids=["unknown", "flow-option", "plain-secret", "duration"],
    )
    def test_decorator_errors(self, options: dict[str, Any], message: str) -> None:
        """Each names the task, the option and a valid form."""
        with pytest.raises(OptionError) as excinfo:

            @task(**options)
            def t() -> None: ...

        text = str(excinfo.value)
        assert text.startswith("task 't' (tests/test_options_lowering.py:")
        assert message in text

    def test_wrong_unit(self) -> None:
        """'2GB' is refused where it is written, showing '2Gi'."""
        with pytest.raises(OptionError) as excinfo:
            Resources(memory="2GB")
        assert str(excinfo.value) == (
            "option 'memory': '2GB' is not a Kubernetes quantity; write '2Gi' (binary, 2 x "
            "1024^3 bytes) or '2G' (decimal)"
        )

    @pytest.mark.parametrize(
        ("build", "message"),
        [
            (lambda: Resources(gpu=0), "gpu"),
            (lambda: Resources(gpu=1.5), "gpu"),  # type: ignore[arg-type]
            (lambda: Toleration("k", "Equals"), "Equal"),
            (lambda: Toleration("k", effect="NoRun"), "NoSchedule"),
        ],
        ids=["gpu-zero", "gpu-fraction", "operator", "effect"],
    )
    def test_value_errors(self, build, message: str) -> None:  # type: ignore[no-untyped-def]
        """Bad GPU counts and tolerations fail when written, showing the valid forms."""
        with pytest.raises(OptionError) as excinfo:
            build()
        assert message in str(excinfo.value)

    def test_duplicate_mount_paths(self) -> None:
        """A task volume on the same path as a flow volume is a compile error naming the task."""

        @task(volumes=[Volume.empty_dir("/data", name="scratch")])
        def clash() -> None: ...

        @flow(image="img", volumes=[Volume.pvc("datasets", "/data")])
        def f() -> None:
            clash()

        with pytest.raises(CompileError) as excinfo:
            compile_dict(f, config=parse_config({}))
        text = str(excinfo.value)
        assert text.startswith("flow 'f', task 'clash' (tests/test_options_lowering.py:")
        assert "/data" in text

    def test_unknown_profile(self) -> None:
        """A profile the configuration does not define lists those it does."""

        @task(profile="gpu-large")
        def big() -> None: ...

        @flow(image="img")
        def f() -> None:
            big()

        with pytest.raises(CompileError) as excinfo:
            compile_dict(f, config=PROJECT)
        text = str(excinfo.value)
        assert text.startswith("flow 'f', task 'big' (tests/test_options_lowering.py:")
        assert text.endswith(
            "profile 'gpu-large' is not defined in the project configuration (profiles: gpu); "
            "define it under [tool.flowdsl.profiles.gpu-large] in pyproject.toml"
        )

    def test_bad_affinity(self) -> None:
        """An affinity that is not Kubernetes' shape says so."""

        @task(affinity={"nodeAffinity": {"required": 3}})
        def t() -> None: ...

        @flow(image="img")
        def f() -> None:
            t()

        with pytest.raises(CompileError) as excinfo:
            compile_dict(f, config=parse_config({}))
        assert (
            "option 'affinity' is not a Kubernetes affinity: unknown field(s) "
            "nodeAffinity.required" in str(excinfo.value)
        )


@task(cache=True, secrets={"API_KEY": Secret("api", "key")})
def fetch(n: int) -> str:
    import os

    return f"{n}:{len(os.environ['API_KEY'])}"


@flow
def cached_fetch(n: int = 3) -> str:
    return fetch(n)


class TestLocally:
    def test_cache_and_secret_in_local_runs(
        self, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The compiled memoize and secretKeyRef work in the local engine: the second run
        with the same input is a cache hit, and the secret comes from the environment."""
        import flowdsl

        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("FLOWDSL_SECRET_API_KEY", "s3cr3t-value")
        first = flowdsl.run(cached_fetch, progress="off", run_dir=tmp_path / "one")
        assert first.result == "3:12"
        assert not first.tasks["fetch"].node.cached
        second = flowdsl.run(cached_fetch, progress="off", run_dir=tmp_path / "two")
        assert second.result == "3:12"
        assert second.tasks["fetch"].node.cached
        other = flowdsl.run(cached_fetch, params={"n": 4}, progress="off", run_dir=tmp_path / "3")
        assert not other.tasks["fetch"].node.cached
        assert "s3cr3t-value" not in (tmp_path / "one" / "run.json").read_text()

    def test_missing_secret_is_refused_before_running(
        self, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without the secret locally, the run does not start and says how to provide it."""
        import flowdsl
        from flowdsl.errors import RunError

        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("FLOWDSL_SECRET_API_KEY", raising=False)
        monkeypatch.delenv("API_KEY", raising=False)
        with pytest.raises(RunError) as excinfo:
            flowdsl.run(cached_fetch, progress="off", run_dir=tmp_path / "r")
        assert "FLOWDSL_SECRET_API_KEY" in str(excinfo.value)
