"""Tests for flowdsl.runtime: ``python -m flowdsl.runtime`` run as a pod runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from flowdsl.payload import dump
from flowdsl.types import codec_for

MODULE = "flowdsl_rt_tasks"

TASKS_SOURCE = """\
from __future__ import annotations

import dataclasses
import functools
from typing import Optional

from flowdsl import task


@dataclasses.dataclass
class Metrics:
    model: str
    accuracy: float


def echo(
    n: int,
    flag: bool,
    rows: list[dict],
    best: Metrics,
    maybe: Optional[int] = None,
    note: str = "none",
) -> list[str]:
    print("echo called")
    return [repr(n), repr(flag), repr(rows), repr(best), repr(maybe), repr(note)]


def measure(model: str, accuracy: float) -> Metrics:
    return Metrics(model, accuracy * 2)


def pair(x: int) -> tuple[int, str]:
    return (x, str(x))


def nothing(x: int) -> None:
    print(f"got {x}")


def positional(a: int, /, b: int = 2, *, c: int = 3) -> list[int]:
    return [a, b, c]


@task
def decorated(x: int) -> int:
    return x + 1


def times_ten(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs) * 10

    return wrapper


@times_ten
def user_decorated(x: int) -> int:
    return x + 1


def boom(x: int) -> int:
    print("about to fail")
    raise ValueError(f"boom {x}")


def liar(x: int) -> int:
    return "not an int"


def chatty_none(x: int) -> None:
    return x


def unhinted(a, b: int) -> int:
    return b


def takes_bytes(data: bytes) -> int:
    return len(data)


NOT_A_FUNCTION = 3
"""

# Runs the runtime as ``python -m`` does, then reports which heavy modules were loaded.
WRAPPER = """\
import json, runpy, sys
report, args = sys.argv[1], sys.argv[2:]
sys.argv = ["flowdsl.runtime", *args]
try:
    runpy.run_module("flowdsl.runtime", run_name="__main__", alter_sys=True)
except SystemExit as exit_:
    code = exit_.code
else:
    code = None
heavy = sorted(
    name for name in sys.modules
    if name.partition(".")[0] in {"hera", "pydantic", "yaml", "attr", "attrs"}
)
with open(report, "w") as file:
    loaded = "flowdsl.runtime" in sys.modules
    json.dump({"code": code, "heavy": heavy, "flowdsl_runtime": loaded}, file)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory holding the task module, as the project inside an image."""
    root = tmp_path / "project"
    root.mkdir()
    (root / f"{MODULE}.py").write_text(TASKS_SOURCE)
    return root


@pytest.fixture
def tasks(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The task module imported in this process, to decode outputs with its classes."""
    monkeypatch.syspath_prepend(str(project))
    import importlib

    yield importlib.import_module(MODULE)
    sys.modules.pop(MODULE, None)


def runtime(
    *args: str, cwd: Path, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m flowdsl.runtime ARGS`` in a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-m", "flowdsl.runtime", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def by_import(
    project: Path, function: str, *inputs: str, outputs: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a function of the task module by import, with --input for each NAME=VALUE."""
    args = ["--function", f"{MODULE}:{function}"]
    if outputs is not None:
        args += ["--outputs", str(outputs)]
    for item in inputs:
        args += ["--input", item]
    return runtime(*args, cwd=project, pythonpath=project)


def read_outputs(directory: Path) -> dict[str, str]:
    """The output files as Argo reads them: one trailing newline trimmed (the runtime's)."""
    texts = {path.name: path.read_text() for path in sorted(directory.iterdir())}
    assert all(text.endswith("\n") for text in texts.values()), texts
    return {name: text[:-1] for name, text in texts.items()}


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The runtime's one error message (and check that it is the only stderr line)."""
    assert result.stderr.endswith("\n")
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr[:-1]


class TestInputs:
    def test_decoded_by_type(self, project: Path, tmp_path: Path) -> None:
        """int, bool, list[dict], a dataclass and Optional inputs arrive decoded."""
        out = tmp_path / "out"
        result = by_import(
            project,
            "echo",
            "n=42",
            "flag=true",
            'rows=[{"a":1},{"b":[2,3]}]',
            'best={"model":"vit","accuracy":0.5}',
            "maybe=7",
            outputs=out,
        )
        assert result.stderr == "echo called\n"  # what a task prints goes to stderr
        assert result.returncode == 0
        # The return value is the result: stdout (and, since --outputs is given, the file
        # `return` that manifests of flowdsl 0.1 read).
        assert read_outputs(out) == {"return": result.stdout[:-1]}
        assert json.loads(result.stdout) == [
            "42",
            "True",
            "[{'a': 1}, {'b': [2, 3]}]",
            "Metrics(model='vit', accuracy=0.5)",
            "7",
            "'none'",
        ]

    def test_optional_null_and_defaults(self, project: Path, tmp_path: Path) -> None:
        """`null` decodes to None for Optional; absent inputs take the Python default."""
        out = tmp_path / "out"
        result = by_import(
            project,
            "echo",
            "n=-1",
            "flag=false",
            "rows=[]",
            'best={"model":"","accuracy":1}',
            "maybe=null",
            outputs=out,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)[1:] == [
            "False",
            "[]",
            "Metrics(model='', accuracy=1.0)",
            "None",
            "'none'",
        ]

    def test_empty_value_and_equals_sign(self, project: Path, tmp_path: Path) -> None:
        """A value may be empty, and may itself contain '=' (split on the first one)."""
        out = tmp_path / "out"
        result = by_import(
            project,
            "echo",
            "n=0",
            "flag=true",
            "rows=[]",
            'best={"model":"m","accuracy":0.0}',
            "note=",
            outputs=out,
        )
        assert json.loads(result.stdout)[5] == "''"
        result = by_import(
            project,
            "echo",
            "n=0",
            "flag=true",
            "rows=[]",
            'best={"model":"m","accuracy":0.0}',
            "note=a=b",
            outputs=out,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)[5] == "'a=b'"

    def test_positional_and_keyword_only(self, project: Path, tmp_path: Path) -> None:
        """Positional-only parameters are passed by position, keyword-only by keyword."""
        out = tmp_path / "out"
        result = by_import(project, "positional", "a=1", "c=30", outputs=out)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "[1,2,30]\n"  # Argo trims the one newline


class TestOutputs:
    def test_stdout_is_the_result_alone(self, project: Path, tmp_path: Path) -> None:
        """What the task prints goes to stderr; stdout is the result (none for None)."""
        result = by_import(project, "nothing", "x=5", outputs=tmp_path / "out")
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "got 5\n")

    def test_one_newline_ends_the_result(self, tmp_path: Path) -> None:
        """Argo trims exactly one trailing newline from stdout: the runtime writes one, so a
        str ending with its own newline arrives whole."""
        (tmp_path / "lines_mod.py").write_text("def lines() -> str:\n    return 'a\\nb\\n'\n")
        result = runtime("--function", "lines_mod:lines", cwd=tmp_path, pythonpath=tmp_path)
        assert result.stdout == "a\nb\n\n"

    def test_what_prints_after_the_task_stays_off_stdout(self, tmp_path: Path) -> None:
        """Libraries that print at exit (atexit, threads still running; wandb does) cannot
        reach the result: descriptor 1 stays on stderr until the process ends."""
        (tmp_path / "late_mod.py").write_text(
            "import atexit, threading, time\n"
            "atexit.register(lambda: print('at exit'))\n"
            "def late() -> int:\n"
            "    threading.Thread(target=lambda: (time.sleep(0.2), print('thread'))).start()\n"
            "    return 3\n"
        )
        result = runtime("--function", "late_mod:late", cwd=tmp_path, pythonpath=tmp_path)
        assert (result.returncode, result.stdout) == (0, "3\n"), result.stderr
        assert result.stderr.splitlines() == ["thread", "at exit"]

    def test_child_processes_and_c_level_writes_stay_off_stdout(self, tmp_path: Path) -> None:
        """Descriptor 1 itself is redirected while the task runs, not only sys.stdout."""
        (tmp_path / "noisy_mod.py").write_text(
            "import os, subprocess, sys\n"
            "print('imported')\n"
            "def noisy() -> int:\n"
            "    os.write(1, b'raw\\n')\n"
            "    subprocess.run([sys.executable, '-c', 'print(\"child\")'], check=True)\n"
            "    print('printed')\n"
            "    return 7\n"
        )
        result = runtime("--function", "noisy_mod:noisy", cwd=tmp_path, pythonpath=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "7\n"
        assert result.stderr.splitlines() == ["imported", "raw", "child", "printed"]

    def test_structured_return(self, project: Path, tmp_path: Path, tasks: ModuleType) -> None:
        """A dataclass return is the result, and each field an output file; all decode back."""
        out = tmp_path / "out"
        result = by_import(project, "measure", "model=vit", "accuracy=0.25", outputs=out)
        assert result.returncode == 0, result.stderr
        assert result.stdout == '{"model":"vit","accuracy":0.5}\n'
        texts = read_outputs(out)
        assert texts == {"accuracy": "0.5", "model": "vit", "return": result.stdout[:-1]}
        assert codec_for(tasks.Metrics).decode(result.stdout[:-1]) == tasks.Metrics("vit", 0.5)
        assert codec_for(float).decode(texts["accuracy"]) == 0.5

    def test_tuple_return(self, project: Path, tmp_path: Path) -> None:
        """A fixed tuple return is the result, and writes 'return-0', 'return-1', ..."""
        out = tmp_path / "out"
        result = by_import(project, "pair", "x=3", outputs=out)
        assert result.returncode == 0, result.stderr
        assert read_outputs(out) == {"return": '[3,"3"]', "return-0": "3", "return-1": "3"}
        assert codec_for(tuple[int, str]).decode(result.stdout[:-1]) == (3, "3")

    def test_none_return_writes_nothing(self, project: Path, tmp_path: Path) -> None:
        """A task returning None writes no output file (nor the directory)."""
        out = tmp_path / "out"
        result = by_import(project, "nothing", "x=1", outputs=out)
        assert result.returncode == 0, result.stderr
        assert not out.exists()

    def test_outputs_replace_old_files_and_leave_no_temporaries(
        self, project: Path, tmp_path: Path
    ) -> None:
        """Outputs are written whole into an existing directory: no temporary is left."""
        out = tmp_path / "deep" / "out"
        out.mkdir(parents=True)
        (out / "return-0").write_text("stale")
        result = by_import(project, "pair", "x=12", outputs=out)
        assert result.returncode == 0, result.stderr
        assert sorted(os.listdir(out)) == ["return", "return-0", "return-1"]
        assert read_outputs(out)["return-0"] == "12"

    def test_default_outputs_directory(self, project: Path) -> None:
        """Without --outputs, the outputs go to /tmp/flowdsl/outputs (the compiler's path)."""
        result = runtime("--help", cwd=project)
        assert "(default: /tmp/flowdsl/outputs)" in " ".join(result.stdout.split())


class TestFunctionLookup:
    def test_task_wrapper_is_unwrapped(self, project: Path, tmp_path: Path) -> None:
        """--function naming a @task gives the plain function behind it."""
        out = tmp_path / "out"
        result = by_import(project, "decorated", "x=1", outputs=out)
        assert result.returncode == 0, result.stderr
        assert (result.stdout, read_outputs(out)) == ("2\n", {"return": "2"})

    def test_function_as_the_first_argument(self, project: Path) -> None:
        """Compiled templates name the function positionally: MODULE:QUALNAME NAME=VALUE ..."""
        result = runtime(f"{MODULE}:pair", "x=4", cwd=project, pythonpath=project)
        assert (result.returncode, result.stdout) == (0, '[4,"4"]\n'), result.stderr

    def test_task_name_reaches_current(self, project: Path) -> None:
        """The runtime sets FLOWDSL_TASK from the @task it loads; a variable already set wins."""
        (project / "named_mod.py").write_text(
            "import os\n"
            "from flowdsl import task\n"
            "@task(name='fetch-rows')\n"
            "def fetch() -> str:\n"
            "    return os.environ.get('FLOWDSL_TASK', '')\n"
            "def plain() -> str:\n"
            "    return os.environ.get('FLOWDSL_TASK', '')\n"
        )
        named = runtime("--function", "named_mod:fetch", cwd=project, pythonpath=project)
        assert (named.returncode, named.stdout) == (0, "fetch-rows\n"), named.stderr
        plain = runtime("--function", "named_mod:plain", cwd=project, pythonpath=project)
        assert (plain.returncode, plain.stdout) == (0, "\n"), plain.stderr  # the empty str
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        given = subprocess.run(
            [sys.executable, "-m", "flowdsl.runtime", "--function", "named_mod:fetch"],
            cwd=project,
            env={**env, "PYTHONPATH": str(project), "FLOWDSL_TASK": "from-the-pod"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert given.stdout == "from-the-pod\n"

    def test_user_decorator_is_kept(self, project: Path, tmp_path: Path) -> None:
        """A user's functools.wraps decorator is not unwrapped: it still runs."""
        out = tmp_path / "out"
        result = by_import(project, "user_decorated", "x=1", outputs=out)
        assert result.returncode == 0, result.stderr
        assert (result.stdout, read_outputs(out)) == ("20\n", {"return": "20"})

    def test_module_not_in_image(self, project: Path, tmp_path: Path) -> None:
        """A module the image lacks is exit 2 with the fix."""
        result = runtime("--function", "acme.pipeline:extract", cwd=tmp_path)
        assert result.returncode == 2
        assert error_line(result) == (
            "flowdsl.runtime: error: module 'acme.pipeline' is not importable in this image "
            "(No module named 'acme'); install the project in the image, or compile with "
            "code='value' so the function travels in the workflow"
        )

    def test_missing_function(self, project: Path) -> None:
        """A name the module does not have is exit 2."""
        result = by_import(project, "extract")
        assert result.returncode == 2
        assert error_line(result) == (
            "flowdsl.runtime: error: module 'flowdsl_rt_tasks' has no 'extract' (no attribute "
            "'extract'); a task must be a module-level function of the image's code; compile "
            "the workflow again against this image, or with code='value'"
        )

    def test_not_a_function(self, project: Path) -> None:
        """A name that is not callable is exit 2."""
        result = by_import(project, "NOT_A_FUNCTION")
        assert result.returncode == 2
        assert error_line(result) == (
            "flowdsl.runtime: error: 'flowdsl_rt_tasks:NOT_A_FUNCTION' is a int, not a "
            "function; point --function at the task function"
        )

    def test_module_raising_on_import(self, tmp_path: Path) -> None:
        """A module that raises while imported is the user's failure: traceback, exit 1."""
        (tmp_path / "broken_mod.py").write_text("import missing_dependency_xyz\n")
        result = runtime("--function", "broken_mod:f", cwd=tmp_path, pythonpath=tmp_path)
        assert result.returncode == 1
        assert result.stderr.startswith("Traceback (most recent call last):\n")
        assert result.stderr.endswith(
            "ModuleNotFoundError: No module named 'missing_dependency_xyz'\n"
        )


class TestFailures:
    def test_unknown_input(self, project: Path) -> None:
        """An input the function does not take is exit 2, listing the parameters."""
        result = by_import(project, "pair", "x=1", "y=2")
        assert (result.returncode, result.stdout) == (2, "")
        assert error_line(result) == (
            "flowdsl.runtime: error: task 'pair', parameter 'y': unknown input (the task's "
            "parameters are: x); the workflow does not match this image's code; compile it "
            "again and resubmit"
        )

    def test_missing_input(self, project: Path) -> None:
        """A parameter without default and without input is exit 2."""
        result = by_import(project, "measure", "model=m")
        assert (result.returncode, result.stdout) == (2, "")
        assert error_line(result) == (
            "flowdsl.runtime: error: task 'measure', parameter 'accuracy': missing input: the "
            "parameter has no default and no --input accuracy=... was given; the workflow "
            "does not match this image's code; compile it again and resubmit"
        )

    def test_undecodable_int(self, project: Path) -> None:
        """A text that is not an int is exit 2, naming the type and the text."""
        result = by_import(project, "pair", "x=abc")
        assert (result.returncode, result.stdout) == (2, "")
        assert error_line(result) == (
            "flowdsl.runtime: error: task 'pair', parameter 'x': expected int, got 'abc'; "
            "write a whole number such as 42"
        )

    def test_undecodable_json_says_where(self, project: Path) -> None:
        """A JSON value of the wrong shape names the place inside it."""
        result = by_import(
            project,
            "echo",
            "n=1",
            "flag=true",
            "rows=[1]",
            'best={"model":"m","accuracy":0.1}',
        )
        assert result.returncode == 2
        assert error_line(result) == (
            "flowdsl.runtime: error: task 'echo', parameter 'rows': expected list[dict], got "
            "'[1]': expected dict at [0], got 1 of type int"
        )

    def test_undecodable_bool(self, project: Path) -> None:
        """A bool parameter takes only true or false."""
        result = by_import(
            project, "echo", "n=1", "flag=yes", "rows=[]", 'best={"model":"m","accuracy":0.1}'
        )
        assert result.returncode == 2
        assert error_line(result).startswith(
            "flowdsl.runtime: error: task 'echo', parameter 'flag': expected bool, got 'yes'"
        )

    def test_long_value_is_truncated(self, project: Path) -> None:
        """A long bad value is shown cut at 200 characters, with its length."""
        value = "9" * 150 + "x" * 150
        result = by_import(project, "pair", f"x={value}")
        assert result.returncode == 2
        shown = repr(value[:200])
        assert error_line(result) == (
            f"flowdsl.runtime: error: task 'pair', parameter 'x': expected int, got {shown}... "
            "(300 characters); write a whole number such as 42"
        )

    def test_missing_input_artifact(self, project: Path) -> None:
        """An artifact-typed parameter is read from the file at the path it is given."""
        result = by_import(project, "takes_bytes", "data=abc")
        assert result.returncode == 2
        assert error_line(result).startswith(
            "flowdsl.runtime: error: task 'takes_bytes', parameter 'data': the input artifact "
            "at 'abc' cannot be read (FileNotFoundError: "
        )

    def test_unhinted_parameter(self, project: Path) -> None:
        """A parameter without a type hint cannot be decoded."""
        result = by_import(project, "unhinted", "a=1", "b=2")
        assert result.returncode == 2
        assert error_line(result) == (
            "flowdsl.runtime: error: task 'unhinted', parameter 'a': the parameter has no "
            "type hint, so its input cannot be decoded; annotate every task parameter"
        )

    def test_function_raises(self, project: Path, tmp_path: Path) -> None:
        """A raising task is exit 1 with its traceback, which starts in the user's code."""
        out = tmp_path / "out"
        result = by_import(project, "boom", "x=3", outputs=out)
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.startswith("about to fail\nTraceback (most recent call last):\n")
        assert result.stderr.endswith("ValueError: boom 3\n")
        assert "flowdsl_rt_tasks.py" in result.stderr
        assert "flowdsl/runtime" not in result.stderr
        assert not out.exists()

    def test_wrong_return_type(self, project: Path, tmp_path: Path) -> None:
        """A return value that does not match the return hint is exit 2, and no output."""
        out = tmp_path / "out"
        result = by_import(project, "liar", "x=1", outputs=out)
        assert result.returncode == 2
        assert error_line(result) == (
            "flowdsl.runtime: error: task 'liar': the return value does not match the return "
            "hint int: expected int, got 'not an int' of type str; return a int, or change "
            "the return hint"
        )
        assert not out.exists()

    def test_value_for_a_none_hint(self, project: Path) -> None:
        """A task declared -> None that returns a value is exit 2."""
        result = by_import(project, "chatty_none", "x=1")
        assert result.returncode == 2
        assert error_line(result) == (
            "flowdsl.runtime: error: task 'chatty_none': the return value does not match the "
            "return hint None: expected None (the return hint is None), got 1 of type int; "
            "return nothing, or declare the return type"
        )

    def test_unwritable_outputs(self, project: Path, tmp_path: Path) -> None:
        """An --outputs path that is a file is exit 2."""
        (tmp_path / "file").write_text("")
        result = by_import(project, "pair", "x=1", outputs=tmp_path / "file")
        assert result.returncode == 2
        assert error_line(result).startswith(
            f"flowdsl.runtime: error: task 'pair': the outputs cannot be written to "
            f"'{tmp_path / 'file'}' (FileExistsError: "
        )


class TestCommandLine:
    def test_help(self, tmp_path: Path) -> None:
        """--help exits 0 and lists every flag."""
        result = runtime("--help", cwd=tmp_path)
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout.startswith("usage: python -m flowdsl.runtime")
        for flag in ("--function MODULE:QUALNAME", "--payload PATH", "--input NAME=VALUE"):
            assert flag in result.stdout
        assert "--outputs DIR" in result.stdout

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            ([], "give exactly one of MODULE:QUALNAME (or --function) and --payload"),
            (
                ["a:b", "--payload", "p"],
                "give exactly one of MODULE:QUALNAME (or --function) and --payload",
            ),
            (["a:b", "c:d"], "one function only, got 'a:b', 'c:d'"),
            (["--function", "a:b", "c:d"], "one function only, got 'c:d'"),
            (
                ["--function", "a:b", "--input", "novalue"],
                "an input must be NAME=VALUE, got 'novalue'",
            ),
            (["--function", "a:b", "=1"], "an input must be NAME=VALUE, got '=1'"),
            (["--function", "a:b", "x=1", "--input", "x=2"], "input 'x' is given twice"),
            (["--function", "a:b", "--payload"], "argument --payload: expected one argument"),
        ],
    )
    def test_usage_errors(self, tmp_path: Path, args: list[str], message: str) -> None:
        """A malformed command line is exit 2 with argparse's usage and the problem."""
        result = runtime(*args, cwd=tmp_path)
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr.startswith("usage: python -m flowdsl.runtime")
        assert result.stderr.endswith(f"python -m flowdsl.runtime: error: {message}\n")

    def test_bad_function_spec(self, tmp_path: Path) -> None:
        """--function without a colon is exit 2 with an example."""
        result = runtime("--function", "acme.extract", cwd=tmp_path)
        assert result.returncode == 2
        assert error_line(result) == (
            "flowdsl.runtime: error: --function expects MODULE:QUALNAME, got 'acme.extract'; "
            "e.g. --function acme.pipeline:extract"
        )


def scale(m: Metrics, k: float) -> Metrics:
    print(f"scaling {m.model}")
    return Metrics(m.model, m.accuracy * k)


def which_task() -> str:
    return os.environ.get("FLOWDSL_TASK", "")


class Metrics(typing.NamedTuple):
    model: str
    accuracy: float


class TestPayload:
    @pytest.fixture
    def payload(self, tmp_path: Path) -> Path:
        path = tmp_path / "script"
        path.write_text(dump(scale, typing.get_type_hints(scale)))
        return path

    def test_runs_by_value(self, payload: Path, tmp_path: Path) -> None:
        """A payload runs where its module is not importable; Argo appends its path last."""
        out = tmp_path / "out"
        result = runtime(
            "--outputs",
            str(out),
            "--input",
            'm={"model":"vit","accuracy":0.25}',
            "--input",
            "k=4",
            "--payload",
            str(payload),
            cwd=tmp_path,
        )
        assert (result.returncode, result.stderr) == (0, "scaling vit\n")
        assert result.stdout == '{"model":"vit","accuracy":1.0}\n'
        assert read_outputs(out) == {
            "accuracy": "1.0",
            "model": "vit",
            "return": '{"model":"vit","accuracy":1.0}',
        }

    def test_task_name_from_the_header(self, tmp_path: Path) -> None:
        """A payload's `# task:` line becomes FLOWDSL_TASK (flowdsl.current().task)."""
        path = tmp_path / "script"
        path.write_text(dump(which_task, typing.get_type_hints(which_task), task="which-task"))
        env = {k: v for k, v in os.environ.items() if k != "FLOWDSL_TASK"}
        result = subprocess.run(
            [sys.executable, "-m", "flowdsl.runtime", "--payload", str(path)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert (result.returncode, result.stdout) == (0, "which-task\n"), result.stderr

    def test_module_of_payload_not_importable_here(self, tmp_path: Path) -> None:
        """The subprocess really cannot import this test module (the payload is by value)."""
        result = subprocess.run(
            [sys.executable, "-c", f"import {scale.__module__}"],
            cwd=tmp_path,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert "ModuleNotFoundError" in result.stderr

    def test_bad_input_names_the_task(self, payload: Path, tmp_path: Path) -> None:
        """Input errors of a payload task name the function's qualname."""
        result = runtime(
            "--input", "m={}", "--input", "k=1", "--payload", str(payload), cwd=tmp_path
        )
        assert result.returncode == 2
        assert error_line(result) == (
            "flowdsl.runtime: error: task 'scale', parameter 'm': expected Metrics, got '{}': "
            "expected Metrics, got {} (missing field 'model')"
        )

    def test_version_mismatch(self, payload: Path, tmp_path: Path) -> None:
        """A payload of another Python is exit 2 with PayloadError's message."""
        text = payload.read_text()
        current = "# python: {}.{}.{}".format(*sys.version_info[:3])
        payload.write_text(text.replace(current, "# python: 2.7.18"))
        result = runtime("--input", "k=1", "--payload", str(payload), cwd=tmp_path)
        assert result.returncode == 2
        assert error_line(result) == (
            "flowdsl.runtime: error: task 'scale': payload was made with Python 2.7.18, this "
            "image has Python {}.{}.{}; build the image with Python 2.7".format(
                *sys.version_info[:3]
            )
        )

    def test_missing_payload_file(self, tmp_path: Path) -> None:
        """A payload path that does not exist is exit 2."""
        result = runtime("--payload", str(tmp_path / "nope"), cwd=tmp_path)
        assert result.returncode == 2
        assert error_line(result).startswith(
            "flowdsl.runtime: error: the payload file cannot be read (FileNotFoundError: "
        )

    def test_not_a_payload(self, tmp_path: Path) -> None:
        """A script that is not a payload is exit 2."""
        (tmp_path / "script").write_text("print('hi')\n")
        result = runtime("--payload", str(tmp_path / "script"), cwd=tmp_path)
        assert (result.returncode, result.stdout) == (2, "")
        assert error_line(result).startswith("flowdsl.runtime: error: not a flowdsl task payload")


class TestImports:
    def heavy_modules(self, cwd: Path, *args: str, pythonpath: Path | None = None) -> Any:
        (cwd / "wrapper.py").write_text(WRAPPER)
        report = cwd / "report.json"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        if pythonpath is not None:
            env["PYTHONPATH"] = str(pythonpath)
        subprocess.run(
            [sys.executable, str(cwd / "wrapper.py"), str(report), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            check=True,
        )
        return json.loads(report.read_text())

    def test_help_loads_no_heavy_module(self, tmp_path: Path) -> None:
        """`--help` loads neither hera, pydantic, yaml nor attrs."""
        report = self.heavy_modules(tmp_path, "--help")
        assert report == {"code": 0, "heavy": [], "flowdsl_runtime": True}

    def test_a_task_run_loads_no_heavy_module(self, project: Path, tmp_path: Path) -> None:
        """A whole run by import (decode, call, encode, write) loads none of them either."""
        out = tmp_path / "out"
        report = self.heavy_modules(
            project,
            "--function",
            f"{MODULE}:measure",
            "--outputs",
            str(out),
            "--input",
            "model=m",
            "--input",
            "accuracy=1",
            pythonpath=project,
        )
        assert report == {"code": 0, "heavy": [], "flowdsl_runtime": True}
        assert (out / "model").read_text() == "m\n"

    def test_a_payload_run_loads_no_heavy_module(self, tmp_path: Path) -> None:
        """A run by value (cloudpickle) loads none of them either."""
        (tmp_path / "script").write_text(dump(scale, typing.get_type_hints(scale)))
        report = self.heavy_modules(
            tmp_path,
            "--outputs",
            str(tmp_path / "out"),
            "--input",
            'm={"model":"a","accuracy":1}',
            "--input",
            "k=2",
            "--payload",
            str(tmp_path / "script"),
        )
        assert report == {"code": 0, "heavy": [], "flowdsl_runtime": True}

    def test_the_check_sees_a_heavy_import(self, tmp_path: Path) -> None:
        """The wrapper does report a heavy module when one is loaded (the check can fail)."""
        (tmp_path / "heavy_mod.py").write_text(
            "import yaml\n\ndef f(x: int) -> int:\n    return x\n"
        )
        report = self.heavy_modules(
            tmp_path,
            "--function",
            "heavy_mod:f",
            "--input",
            "x=1",
            "--outputs",
            str(tmp_path / "out"),
            pythonpath=tmp_path,
        )
        assert "yaml" in report["heavy"]


OLD_MANIFEST = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: old-}
spec:
  entrypoint: old
  templates:
  - name: old
    dag:
      tasks:
      - {name: double, template: double, arguments: {parameters: [{name: x, value: '4'}]}}
      - name: double-2
        template: double
        depends: double
        arguments:
          parameters: [{name: x, value: '{{tasks.double.outputs.parameters.return}}'}]
    outputs:
      parameters:
      - name: return
        valueFrom: {parameter: '{{tasks.double-2.outputs.parameters.return}}'}
  - name: double
    inputs: {parameters: [{name: x}]}
    outputs:
      parameters:
      - name: return
        valueFrom: {path: /tmp/flowdsl/outputs/return}
    container:
      image: img
      command: [python, -m, flowdsl.runtime]
      args: [--function, old_mod:double, --outputs, /tmp/flowdsl/outputs,
             --input, 'x={{inputs.parameters.x}}']
"""


def test_a_manifest_of_flowdsl_0_1_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Templates compiled by flowdsl 0.1 read the return value from the file `return` and pass
    --outputs and --input: a registered template or cron workflow keeps working on an image
    with this runtime."""
    import yaml

    from flowdsl.local import run_manifest

    (tmp_path / "old_mod.py").write_text("def double(x: int) -> int:\n    return 2 * x\n")
    monkeypatch.chdir(tmp_path)
    run = run_manifest(yaml.safe_load(OLD_MANIFEST), run_dir=tmp_path / "run", progress="off")
    assert run.status == "Succeeded", run.message
    assert run.outputs["return"] == "16"


def test_an_unresolved_loop_reference_is_an_empty_fan_in(tmp_path: Path) -> None:
    """Only a list parameter, and only a whole reference to a loop's outputs, becomes []."""
    (tmp_path / "fan_mod.py").write_text(
        "def count(xs: list[int]) -> int:\n    return len(xs)\n"
        "def echo(x: str) -> str:\n    return x\n"
    )
    ref = "{{tasks.square.outputs.result}}"
    empty = runtime("fan_mod:count", f"xs={ref}", cwd=tmp_path, pythonpath=tmp_path)
    assert (empty.returncode, empty.stdout) == (0, "0\n"), empty.stderr
    assert empty.stderr == f"flowdsl.runtime: xs: {ref} ran no items; received []\n"
    text = runtime("fan_mod:echo", f"x={ref}", cwd=tmp_path, pythonpath=tmp_path)
    assert (text.returncode, text.stdout) == (0, f"{ref}\n")
    partial = runtime("fan_mod:count", f"xs=[{ref}]", cwd=tmp_path, pythonpath=tmp_path)
    assert partial.returncode == 2
