"""Package-level promises: the public API, and what `import flowdsl` costs."""

from __future__ import annotations

import json
import subprocess
import sys

import flowdsl

HEAVY = ("hera", "pydantic", "yaml", "requests", "jsonschema", "rich")


def loaded_after(code: str) -> set[str]:
    """Top-level modules loaded by running ``code`` in a fresh interpreter."""
    listing = "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    probe = f"{code}\nimport sys, json\n{listing}"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


class TestImports:
    def test_import_flowdsl_is_light(self) -> None:
        """`import flowdsl` (what a user module does) loads no Hera, pydantic, YAML..."""
        assert not loaded_after("import flowdsl") & set(HEAVY)

    def test_decorating_is_light(self) -> None:
        """Declaring tasks and flows loads nothing heavy either."""
        code = (
            "from flowdsl import task, flow\n"
            "@task\ndef t(x: int) -> list[dict]: ...\n"
            "@flow(image='i')\ndef f(x: int = 1) -> list[dict]:\n    return t(x)\n"
            "f.trace()"
        )
        assert not loaded_after(code) & set(HEAVY)

    def test_runtime_is_light(self) -> None:
        """`python -m flowdsl.runtime --help` loads neither Hera nor pydantic."""
        probe = (
            "import runpy, sys, json\n"
            "sys.argv = ['flowdsl.runtime', '--help']\n"
            "try:\n    runpy.run_module('flowdsl.runtime', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
        )
        result = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        )
        loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
        assert not loaded & {"hera", "pydantic", "yaml", "attrs", "cloudpickle"}

    def test_compile_loads_lazily(self) -> None:
        """flowdsl.compile is there, and Hera arrives only when it is used."""
        assert "hera" in loaded_after("import flowdsl; flowdsl.compile")


class TestExportedMembers:
    def test_all_is_pinned(self) -> None:
        """The public API is exactly this list (changing it is a decision, not an accident)."""
        assert flowdsl.__all__ == [
            "AnnotationError",
            "Backoff",
            "Cache",
            "CodecError",
            "CompileError",
            "Cond",
            "ConfigMapKey",
            "DefinitionError",
            "EventTrigger",
            "Failure",
            "Flow",
            "FlowDSLError",
            "FlowDSLWarning",
            "FlowRun",
            "InvalidNameError",
            "LintError",
            "ManifestSizeWarning",
            "OptionError",
            "Param",
            "ParameterError",
            "PayloadError",
            "Ref",
            "Resources",
            "Retry",
            "RunContext",
            "RunError",
            "RunStatus",
            "Schedule",
            "ScheduledTime",
            "Secret",
            "TargetError",
            "Task",
            "Toleration",
            "TraceError",
            "Volume",
            "WebhookTrigger",
            "__version__",
            "compile",
            "compile_dict",
            "current",
            "flow",
            "fused",
            "otherwise",
            "run",
            "schedule",
            "submit",
            "task",
            "to_json",
            "to_yaml",
            "unmapped",
            "when",
        ]

    def test_every_name_resolves(self) -> None:
        """Each name in __all__ is importable."""
        for name in flowdsl.__all__:
            assert getattr(flowdsl, name) is not None

    def test_errors_share_one_root(self) -> None:
        """Every exported error derives from FlowDSLError."""
        for name in flowdsl.__all__:
            value = getattr(flowdsl, name)
            if isinstance(value, type) and issubclass(value, Warning):
                assert issubclass(value, flowdsl.FlowDSLWarning)
            elif isinstance(value, type) and issubclass(value, Exception):
                assert issubclass(value, flowdsl.FlowDSLError)
