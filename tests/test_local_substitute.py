"""{{...}} substitution as Argo's template.Replace does it."""

from __future__ import annotations

from flowdsl.local.substitute import nested_env, referenced_names, substitute, substitute_deep

SCOPE = {
    "inputs.parameters.lr": "0.1",
    "workflow.name": "wf-abc",
    "tasks.a.outputs.parameters": '[{"p":"1"}]',
    "tasks.a.outputs.parameters.p": "1",
    "item": "x",
}


class TestSimpleTags:
    def test_known_tags(self) -> None:
        """Known names are replaced, spaces inside the braces are ignored."""
        assert substitute("lr={{inputs.parameters.lr}} in {{ workflow.name }}", SCOPE) == (
            "lr=0.1 in wf-abc"
        )

    def test_unknown_tags_stay(self) -> None:
        """An unknown name is left as written (a later stage may know it)."""
        assert (
            substitute("{{tasks.b.outputs.result}}/{{item}}", SCOPE)
            == "{{tasks.b.outputs.result}}/x"
        )

    def test_values_are_not_substituted_again(self) -> None:
        """A value that itself contains a tag is inserted as is, in one pass."""
        assert substitute("{{x}}", {"x": "{{y}}", "y": "no"}) == "{{y}}"

    def test_deep(self) -> None:
        """Every string in a nested value is substituted; keys and non-strings are kept."""
        value = {"args": ["{{item}}", 3], "{{item}}": {"when": "{{item}} == x"}, "flag": True}
        assert substitute_deep(value, SCOPE) == {
            "args": ["x", 3],
            "{{item}}": {"when": "x == x"},
            "flag": True,
        }


class TestExpressionTags:
    def test_evaluated(self) -> None:
        """{{=...}} is evaluated against the scope as nested objects."""
        assert substitute("{{=asFloat(inputs.parameters.lr) * 10}}", SCOPE) == "1"
        assert substitute("{{=tasks.a.outputs.parameters.p + '!'}}", SCOPE) == "1!"

    def test_unresolvable_expression_stays(self) -> None:
        """An expression naming something unknown is left as written (allowUnresolved)."""
        assert substitute("{{=tasks.b.outputs.result}}", SCOPE) == "{{=tasks.b.outputs.result}}"


class TestNestedEnv:
    def test_prefix_keeps_the_object(self) -> None:
        """A name that is also a prefix of others becomes the object holding them."""
        env = nested_env(SCOPE)
        assert env["tasks"]["a"]["outputs"]["parameters"] == {"p": "1"}
        assert env["inputs"]["parameters"]["lr"] == "0.1"
        assert env["item"] == "x"


class TestReferencedNames:
    def test_both_syntaxes(self) -> None:
        """tasks.X and tasks['X'] inside tags are found; text outside tags is not."""
        value = {
            "a": "{{tasks.fetch-data.outputs.result}} tasks.ignored",
            "b": ["{{=tasks['load'].outputs.parameters.p}}", "{{steps.s.outputs.result}}"],
        }
        assert referenced_names(value, "tasks") == {"fetch-data", "load"}
        assert referenced_names(value, "steps") == {"s"}
