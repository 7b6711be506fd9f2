"""YAML and JSON text: the fast writer gives the reference dumper's bytes, always."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from flowdsl import emit
from flowdsl.emit import _reference_yaml, _Unsupported, _Writer, to_json, to_yaml

from conftest import ROOT

MANIFESTS = sorted(
    [*ROOT.glob("examples/*.yaml"), *(ROOT / "tests" / "data").rglob("*.yaml")],
    key=str,
)


def fast(doc: Any) -> str:
    """The fast writer alone (raises _Unsupported where it hands over to the reference)."""
    return _Writer().documents([doc])


def same_as_reference(doc: Any) -> str:
    text = to_yaml(doc)
    assert text == _reference_yaml([doc])
    return text


class TestManifests:
    @pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
    def test_fast_writer_matches_reference(self, path: Path) -> None:
        """Every manifest the repository holds is written by the fast writer, identically."""
        docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and d]
        if not docs:
            pytest.skip("no mapping document")
        assert _Writer().documents(docs) == _reference_yaml(docs)

    def test_examples_round_trip(self) -> None:
        """What is written reads back as the same data."""
        for path in ROOT.glob("examples/*.yaml"):
            docs = list(yaml.safe_load_all(path.read_text()))
            assert list(yaml.safe_load_all(to_yaml(docs))) == docs


class TestScalars:
    @pytest.mark.parametrize(
        ("value", "written"),
        [
            ("plain", "plain"),
            ("{{tasks.a.outputs.parameters.return}}", "'{{tasks.a.outputs.parameters.return}}'"),
            ("y", "'y'"),
            ("N", "'N'"),
            ("yes", "'yes'"),
            ("true", "'true'"),
            ("null", "'null'"),
            ("~", "'~'"),
            ("", "''"),
            ("0", "'0'"),
            ("1.5", "'1.5'"),
            ("2026-01-01", "'2026-01-01'"),
            ("it's", "it's"),
            ("'q'", "'''q'''"),
            ("a: b", "'a: b'"),
            ("a:b", "a:b"),
            ("a #b", "'a #b'"),
            ("a#b", "a#b"),
            ("- a", "'- a'"),
            ("-a", "-a"),
            ("---x", "'---x'"),
            (" lead", "' lead'"),
            ("trail ", "'trail '"),
            ("step && step-2", "step && step-2"),
            ("!(x)", "'!(x)'"),
            ("café", "café"),
            (7, "7"),
            (True, "true"),
            (None, "null"),
        ],
    )
    def test_value(self, value: Any, written: str) -> None:
        """One scalar value, as the reference writes it (style and quoting)."""
        assert fast({"k": value}) == f"k: {written}\n"
        same_as_reference({"k": value})

    @pytest.mark.parametrize(
        ("value", "written"),
        [
            ("a\nb\n", "|\n    a\n    b\n"),
            ("a\nb", "|-\n    a\n    b\n"),
            ("a\n\nb\n", "|\n    a\n\n    b\n"),
            (" a\nb\n", "|2\n     a\n    b\n"),
            ("\na\n", "|2\n\n    a\n"),
        ],
    )
    def test_literal_blocks(self, value: str, written: str) -> None:
        """Multi-line strings are literal blocks, with libyaml's indentation and chomping."""
        assert fast({"k": {"s": value}}) == f"k:\n  s: {written}"
        same_as_reference({"k": {"s": value}})
        same_as_reference({"k": [value, {"s": value}]})

    def test_long_plain_scalar_folds_like_libyaml(self) -> None:
        """A plain scalar past 4,096 columns breaks at a single space, indented."""
        depends = " && ".join(f"step-{i}" for i in range(2000))
        text = same_as_reference({"spec": {"tasks": [{"name": "done", "depends": depends}]}})
        assert text.count("\n") > 4
        assert yaml.safe_load(text)["spec"]["tasks"][0]["depends"] == depends

    def test_long_quoted_scalar_folds_like_libyaml(self) -> None:
        """A single-quoted scalar folds too; doubled quotes count two columns."""
        value = "'" + " ".join(["it's"] * 3000) + "  end"
        text = same_as_reference({"a": [value, {"b": value}]})
        assert yaml.safe_load(text) == {"a": [value, {"b": value}]}


class TestStructure:
    def test_nesting(self) -> None:
        """Indentless sequences in mappings, inline first keys and items, empty collections."""
        doc = {"a": [{"b": 1, "c": [[1, 2], []]}, {}], "d": {"e": {}}, "f": []}
        assert fast(doc) == (
            "a:\n- b: 1\n  c:\n  - - 1\n    - 2\n  - []\n- {}\nd:\n  e: {}\nf: []\n"
        )
        same_as_reference(doc)

    def test_several_documents(self) -> None:
        """Several manifests are one stream, '---' between them."""
        assert to_yaml([{"a": 1}, {"b": 2}]) == "a: 1\n---\nb: 2\n"
        assert to_yaml([{"a": 1}, {"b": 2}]) == _reference_yaml([{"a": 1}, {"b": 2}])

    def test_key_order_is_kept(self) -> None:
        """Keys keep their order (Kubernetes readers expect name first, not sorted keys)."""
        assert to_yaml({"z": 1, "a": 2}) == "z: 1\na: 2\n"


class TestHandOver:
    """What the fast writer leaves to the reference dumper, which then writes it."""

    @pytest.mark.parametrize(
        "doc",
        [
            {"k": "tab\there"},
            {"k": "line\u2028sep"},
            {"k": "bom\ufeff"},
            {"k": "astral \U0001f600"},
            {"k": "space \nbreak"},
            {"k": "ends\n\n"},
            {"k": "\n"},
            {"k": "multi\nline "},
            {"k": 1.5},
            {"k": 1e17},
            {"k" * 129: 1},
            {"multi\nkey": 1},
            {1: "int key"},
            {},
        ],
        ids=lambda d: repr(d)[:30],
    )
    def test_unsupported_goes_to_reference(self, doc: dict[Any, Any]) -> None:
        """The fast writer refuses it; to_yaml still writes what the reference writes."""
        with pytest.raises(_Unsupported):
            fast(doc)
        assert to_yaml(doc) == _reference_yaml([doc])

    def test_shared_object_is_an_anchor(self) -> None:
        """An object met twice is written with an anchor and an alias, as PyYAML does."""
        shared = {"x": 1}
        doc = {"a": shared, "b": shared}
        with pytest.raises(_Unsupported):
            fast(doc)
        assert "&id001" in to_yaml(doc)

    def test_str_subclass(self) -> None:
        """Types the safe dumper refuses are refused the same way (no silent str())."""

        class Name(str):
            pass

        with pytest.raises(yaml.representer.RepresenterError):
            to_yaml({"k": Name("x")})


_TEXT = st.lists(
    st.sampled_from([*"ab yYnN01-:#'\"{}[],&*!|>%@`?.~=<+\n_/é\xa0", "\t", "\u2028", "---", "..."]),
    max_size=12,
).map("".join)
# Long enough to pass the 4,096 columns where lines fold.
_WORDS = ("w", "word", "a'b", "&&", "  ", "x.y")
_LONG = st.builds(
    lambda seed, count: " ".join(random.Random(seed).choices(_WORDS, k=count)),
    st.integers(0, 2**32),
    st.integers(900, 1500),
)
_SCALARS = st.one_of(
    _TEXT,
    _TEXT,
    _TEXT,
    _LONG,
    st.sampled_from(["null", "true", "y", "1.5", "2026-01-01", "0x1F", "", " "]),
    st.integers(),
    st.booleans(),
    st.none(),
)
_KEYS = st.one_of(st.sampled_from(["name", "value", "tasks", "y", "a b"]), _TEXT)
_DOCS = st.dictionaries(
    _KEYS,
    st.recursive(
        _SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)
        ),
        max_leaves=20,
    ),
    min_size=1,
    max_size=5,
)


class TestGenerated:
    @settings(max_examples=200, deadline=None)
    @given(_DOCS)
    def test_same_bytes_as_reference(self, doc: dict[str, Any]) -> None:
        """Any document: to_yaml gives the reference's bytes (fast writer or hand-over)."""
        assert to_yaml(doc) == _reference_yaml([doc])


class TestJson:
    def test_one_and_several(self) -> None:
        """JSON: an object for one manifest, an array for several, indented, UTF-8 kept."""
        assert to_json({"a": "é"}) == '{\n  "a": "é"\n}\n'
        assert json.loads(to_json([{"a": 1}, {"b": 2}])) == [{"a": 1}, {"b": 2}]


def test_reference_is_libyaml_when_built() -> None:
    """The reference is libyaml's emitter when PyYAML was built with it."""
    if hasattr(yaml, "CSafeDumper"):
        assert issubclass(emit._ManifestDumper, yaml.CSafeDumper)
