"""Tests for flowdsl.payload: by-value task payloads."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import pickle
import subprocess
import sys
import textwrap
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from flowdsl._version import __version__ as FLOWDSL_VERSION
from flowdsl.errors import PayloadError
from flowdsl.payload import MAGIC, dump, load, task_name

PYTHON_VERSION = "{}.{}.{}".format(*sys.version_info[:3])
PYTHON_MM = "{}.{}".format(*sys.version_info[:2])
CLOUDPICKLE_VERSION = cloudpickle.__version__

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class Metrics:
    model: str
    accuracy: float


def double(x: int) -> int:
    return 2 * x


def scale(m: Metrics, k: float) -> Metrics:
    return Metrics(m.model, m.accuracy * k)


def classify(word: str) -> str:
    # The set literal compiles to a frozenset constant: its iteration order depends on the
    # process's string hash seed, which the payload must not.
    return "vowel" if word[0] in {"a", "e", "i", "o", "u", "y"} else "consonant"


def make_adder(k: int) -> Callable[[int], int]:
    def add(x: int) -> int:
        return x + k

    return add


def run_python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter, outside the repository, without PYTHONPATH."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


def with_header(text: str, key: str, value: str) -> str:
    """Replace one header line of a payload."""
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(f"# {key}:"))
    lines[index] = f"# {key}: {value}"
    return "\n".join(lines) + "\n"


def body_of(text: str) -> str:
    return "".join(line for line in text.splitlines() if not line.startswith("#"))


def with_body(text: str, data: bytes) -> str:
    """A payload whose body is replaced by data, with a matching checksum."""
    header = [line for line in text.splitlines() if line.startswith("#")]
    payload = "\n".join(header) + "\n" + base64.b64encode(data).decode() + "\n"
    return with_header(payload, "crc32", f"{binascii.crc32(data):08x}")


@pytest.fixture
def fresh_modules() -> Iterator[None]:
    """Forget modules a test imported from tmp_path."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


class TestRoundTrip:
    def test_module_function_in_process(self) -> None:
        """A module-level function and its hints come back and work."""
        fn, hints = load(dump(double, typing.get_type_hints(double)))
        assert fn(21) == 42
        assert hints == {"x": int, "return": int}

    def test_module_function_by_value_in_subprocess(self, tmp_path: Path) -> None:
        """The function travels by value: it works where its module is not importable."""
        payload = tmp_path / "payload.txt"
        payload.write_text(dump(double, typing.get_type_hints(double)))
        result = run_python(
            f"""
            import importlib.util
            from flowdsl.payload import load
            assert importlib.util.find_spec({double.__module__!r}) is None, "importable"
            fn, hints = load(open("payload.txt").read())
            print(fn(21), sorted(hints))
            """,
            cwd=tmp_path,
        )
        assert result.stderr == ""
        assert result.stdout == "42 ['return', 'x']\n"

    def test_closure(self, tmp_path: Path) -> None:
        """A closure keeps its captured value, in process and in a fresh interpreter."""
        add = make_adder(5)
        text = dump(add, {"x": int, "return": int})
        fn, _ = load(text)
        assert fn(1) == 6
        (tmp_path / "payload.txt").write_text(text)
        result = run_python(
            """
            from flowdsl.payload import load
            fn, hints = load(open("payload.txt").read())
            print(fn(10), fn.__qualname__)
            """,
            cwd=tmp_path,
        )
        assert result.stderr == ""
        assert result.stdout == "15 make_adder.<locals>.add\n"

    def test_dataclass_of_the_same_module(self, tmp_path: Path) -> None:
        """A dataclass of the function's module travels with it, and the hints name it."""
        (tmp_path / "payload.txt").write_text(dump(scale, typing.get_type_hints(scale)))
        result = run_python(
            """
            import dataclasses
            from flowdsl.payload import load
            fn, hints = load(open("payload.txt").read())
            cls = hints["return"]
            assert hints["m"] is cls and dataclasses.is_dataclass(cls)
            out = fn(cls("resnet", 0.25), 2.0)
            print(type(out) is cls, out)
            """,
            cwd=tmp_path,
        )
        assert result.stderr == ""
        assert result.stdout == "True Metrics(model='resnet', accuracy=0.5)\n"

    def test_sets_survive(self) -> None:
        """Sets and frozensets (written sorted) come back equal, with their own types."""
        shared = {"b", "a"}

        def uses_sets() -> tuple[Any, ...]:
            return (shared, shared, frozenset({3, 1, 2}), {("x", 1), ("a", 2)}, {None, 1.5})

        fn, _ = load(dump(uses_sets, {"return": tuple}))
        first, second, frozen, pairs, mixed = fn()
        assert first == {"a", "b"}
        assert type(first) is set
        assert first is second  # one set referenced twice stays one object
        assert frozen == frozenset({1, 2, 3})
        assert type(frozen) is frozenset
        assert pairs == {("x", 1), ("a", 2)}
        assert mixed == {None, 1.5}

    def test_module_registration_is_restored(self) -> None:
        """dump registers the function's module by value only while it pickles."""
        name = double.__module__
        assert name not in cloudpickle.list_registry_pickle_by_value()
        dump(double, {"x": int, "return": int})
        assert name not in cloudpickle.list_registry_pickle_by_value()
        module = sys.modules[name]
        cloudpickle.register_pickle_by_value(module)
        try:
            dump(double, {"x": int, "return": int})
            assert name in cloudpickle.list_registry_pickle_by_value()
        finally:
            cloudpickle.unregister_pickle_by_value(module)


class TestText:
    def test_header(self) -> None:
        """The header names the format, the function and the versions, then a checksum."""
        lines = dump(double, {"x": int, "return": int}).splitlines()
        assert lines[:5] == [
            MAGIC,
            f"# function: {double.__module__}:double",
            f"# python: {PYTHON_VERSION}",
            f"# cloudpickle: {CLOUDPICKLE_VERSION}",
            f"# flowdsl: {FLOWDSL_VERSION}",
        ]
        assert lines[5].startswith("# crc32: ")
        assert MAGIC == "# flowdsl task payload v1"

    def test_task_name_line(self) -> None:
        """dump(task=...) adds a `# task:` line that task_name reads; load is unchanged."""
        text = dump(double, {"x": int, "return": int}, task="double-it")
        assert text.splitlines()[2] == "# task: double-it"
        assert task_name(text) == "double-it"
        assert task_name(dump(double, {"x": int, "return": int})) is None
        fn, _ = load(text)
        assert fn(2) == 4

    def test_body_is_wrapped_base64(self) -> None:
        """The body is base64 in lines of 76 columns (the last may be shorter)."""
        text = dump(scale, typing.get_type_hints(scale))
        assert text.endswith("\n")
        body = text.splitlines()[6:]
        assert len(body) > 2
        assert {len(line) for line in body[:-1]} == {76}
        assert 0 < len(body[-1]) <= 76
        data = base64.b64decode("".join(body), validate=True)
        assert data[:2] == pickle.PROTO + bytes([cloudpickle.DEFAULT_PROTOCOL])


DETERMINISM_SCRIPT = """\
from __future__ import annotations
import dataclasses, sys, typing
from flowdsl.payload import dump

@dataclasses.dataclass
class Row:
    name: str
    tags: list[str]

def tag(row: Row, mode: str) -> Row:
    kept = [t for t in row.tags if t in {"red", "green", "blue", "cyan", "magenta"}]
    return Row(row.name, kept if mode in {"strict", "exact"} else row.tags)

sys.stdout.write(dump(tag, typing.get_type_hints(tag)))
"""


class TestDeterminism:
    def test_same_text_twice(self) -> None:
        """Dumping the same function twice in one process gives the same text."""
        hints = typing.get_type_hints(scale)
        assert dump(scale, hints) == dump(scale, hints)
        assert dump(classify, {"word": str, "return": str}) == dump(
            classify, {"word": str, "return": str}
        )

    def test_same_text_in_fresh_processes(self, tmp_path: Path) -> None:
        """Two fresh interpreters with different hash seeds write the same payload.

        The script has what plain cloudpickle output varies on: a dataclass pickled by value
        (a random tracker id) and set constants (hash order).
        """
        (tmp_path / "flow_script.py").write_text(DETERMINISM_SCRIPT)
        outputs = [
            run_python("import runpy; runpy.run_path('flow_script.py')", tmp_path, **seed)
            for seed in ({"PYTHONHASHSEED": "1"}, {"PYTHONHASHSEED": "2"}, {})
        ]
        assert [out.stderr for out in outputs] == ["", "", ""]
        assert outputs[0].stdout.startswith(MAGIC)
        assert outputs[0].stdout == outputs[1].stdout == outputs[2].stdout

    def test_loaded_payload_still_works(self, tmp_path: Path) -> None:
        """The deterministic form of classes and sets loads into a working function."""
        (tmp_path / "flow_script.py").write_text(DETERMINISM_SCRIPT)
        made = run_python("import runpy; runpy.run_path('flow_script.py')", tmp_path)
        (tmp_path / "payload.txt").write_text(made.stdout)
        result = run_python(
            """
            from flowdsl.payload import load
            fn, hints = load(open("payload.txt").read())
            Row = hints["row"]
            print(fn(Row("r", ["red", "pink", "blue"]), "strict"))
            print(fn(Row("r", ["red", "pink"]), "loose"))
            """,
            cwd=tmp_path,
        )
        assert result.stderr == ""
        assert result.stdout == (
            "Row(name='r', tags=['red', 'blue'])\nRow(name='r', tags=['red', 'pink'])\n"
        )


class TestVersionMismatch:
    @pytest.fixture
    def text(self) -> str:
        return dump(double, {"x": int, "return": int})

    def test_python(self, text: str) -> None:
        """Another Python major.minor is refused, naming both versions and the image fix."""
        with pytest.raises(PayloadError) as info:
            load(with_header(text, "python", "2.7.18"))
        assert str(info.value) == (
            f"task 'double': payload was made with Python 2.7.18, this image has Python "
            f"{PYTHON_VERSION}; build the image with Python 2.7"
        )
        assert info.value.task == "double"

    def test_python_micro_is_accepted(self, text: str) -> None:
        """Only major.minor must match: another micro release loads."""
        fn, _ = load(with_header(text, "python", f"{PYTHON_MM}.999"))
        assert fn(2) == 4

    def test_cloudpickle(self, text: str) -> None:
        """Another cloudpickle major.minor is refused with the pip command that fixes it."""
        with pytest.raises(PayloadError) as info:
            load(with_header(text, "cloudpickle", "2.2.1"))
        assert str(info.value) == (
            f"task 'double': payload was made with cloudpickle 2.2.1, this image has "
            f"cloudpickle {CLOUDPICKLE_VERSION}; pip install cloudpickle==2.2.*"
        )

    def test_flowdsl(self, text: str) -> None:
        """Another flowdsl major.minor is refused, suggesting code='import'."""
        with pytest.raises(PayloadError) as info:
            load(with_header(text, "flowdsl", "9.4.0"))
        assert str(info.value) == (
            f"task 'double': payload was made with flowdsl 9.4.0, this image has flowdsl "
            f"{FLOWDSL_VERSION}; pip install flowdsl==9.4.* in the image, or compile with "
            "code='import' so the image's own code is used"
        )

    def test_python_is_checked_first(self, text: str) -> None:
        """With several mismatches the Python one is reported (it decides the others)."""
        text = with_header(with_header(text, "flowdsl", "9.4.0"), "python", "2.7.18")
        with pytest.raises(PayloadError, match=r"made with Python 2\.7\.18"):
            load(text)

    def test_checked_before_unpickling(self, text: str) -> None:
        """The versions are checked before the body is read, so a bad body does not hide them."""
        text = with_header(text, "python", "2.7.18").replace(body_of(text)[:76], "!" * 76)
        with pytest.raises(PayloadError, match=r"made with Python 2\.7\.18"):
            load(text)


class TestDamaged:
    @pytest.fixture
    def text(self) -> str:
        return dump(double, {"x": int, "return": int})

    def test_not_a_payload(self) -> None:
        """Text that is not a payload is refused, quoting its first line."""
        with pytest.raises(PayloadError) as info:
            load("import os\nprint(os.getcwd())\n")
        assert str(info.value) == (
            "not a flowdsl task payload (expected first line '# flowdsl task payload v1', "
            "got 'import os'); pass the file holding the template's script source, as "
            "flowdsl wrote it"
        )

    def test_empty(self) -> None:
        """An empty file is not a payload."""
        with pytest.raises(PayloadError, match=r"^not a flowdsl task payload .* got ''\)"):
            load("")

    def test_other_format_version(self, text: str) -> None:
        """A payload of a newer format names both format versions."""
        with pytest.raises(PayloadError) as info:
            load(text.replace(MAGIC, "# flowdsl task payload v2"))
        assert str(info.value) == (
            f"payload format v2 is not supported (flowdsl {FLOWDSL_VERSION} reads v1); "
            "compile with the flowdsl version installed in the image"
        )

    def test_missing_header_line(self, text: str) -> None:
        """A header without a version line is damaged."""
        text = "\n".join(line for line in text.splitlines() if not line.startswith("# flowdsl:"))
        with pytest.raises(PayloadError) as info:
            load(text)
        assert str(info.value) == (
            "task 'double': payload is damaged: its header has no 'flowdsl' line; "
            "compile the flow again and use the payload unchanged"
        )

    def test_bad_base64(self, text: str) -> None:
        """A body with characters outside base64 is damaged."""
        lines = text.splitlines()
        lines[7] = "*" + lines[7][1:]
        with pytest.raises(PayloadError) as info:
            load("\n".join(lines))
        assert str(info.value).startswith(
            "task 'double': payload is damaged: its body is not valid base64 ("
        )
        assert str(info.value).endswith("; compile the flow again and use the payload unchanged")

    def test_missing_body_line(self, text: str) -> None:
        """A line lost from the body is caught by the checksum."""
        lines = text.splitlines()
        del lines[7]
        with pytest.raises(PayloadError) as info:
            load("\n".join(lines))
        assert str(info.value).startswith("task 'double': payload is damaged: its body has ")
        assert "the header says" in str(info.value)

    def test_not_a_pickle(self, text: str) -> None:
        """A well-formed body that is not a pickle is damaged."""
        with pytest.raises(PayloadError) as info:
            load(with_body(text, b"definitely not a pickle"))
        assert str(info.value).startswith(
            "task 'double': payload is damaged: it does not unpickle (UnpicklingError: "
        )

    def test_not_a_function_and_hints(self, text: str) -> None:
        """A pickle of something else than (function, hints) is damaged."""
        with pytest.raises(PayloadError) as info:
            load(with_body(text, pickle.dumps([1, 2])))
        assert str(info.value) == (
            "task 'double': payload is damaged: it does not hold a function and its type "
            "hints (got a list); compile the flow again and use the payload unchanged"
        )

    @pytest.mark.usefixtures("fresh_modules")
    def test_module_missing_in_image(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A module used by reference that the image lacks is named, with the fix."""
        (tmp_path / "flowdsl_test_helperlib.py").write_text("def shout(s):\n    return s.upper()\n")
        (tmp_path / "flowdsl_test_taskmod.py").write_text(
            "import flowdsl_test_helperlib\n\n"
            "def run(s: str) -> str:\n    return flowdsl_test_helperlib.shout(s)\n"
        )
        monkeypatch.syspath_prepend(str(tmp_path))
        import flowdsl_test_taskmod  # type: ignore[import-not-found]

        text = dump(flowdsl_test_taskmod.run, {"s": str, "return": str})
        (tmp_path / "flowdsl_test_helperlib.py").unlink()
        del sys.modules["flowdsl_test_helperlib"]
        with pytest.raises(PayloadError) as info:
            load(text)
        assert str(info.value) == (
            "task 'run': payload needs module 'flowdsl_test_helperlib', which this image "
            "cannot import; install 'flowdsl_test_helperlib' in the image, or compile with "
            "code='import' so the image's own code is used"
        )
