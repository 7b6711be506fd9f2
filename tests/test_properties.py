"""Property tests: random flows compile to manifests that Argo's schema and rules accept."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowdsl import Flow, compile_dict, flow, task
from flowdsl.errors import FlowDSLError

from argo_oracle import assert_valid_argo


@task
def seed(value: int) -> int:
    return value


@task
def combine(a: int, b: int) -> int:
    return a * 3 + b


@task(retries=1)
def bump(a: int, by: int = 1) -> int:
    return a + by


@task
def pair(a: int) -> tuple[int, int]:
    return a, a + 1


#: A random flow is a list of steps; each step picks a task and earlier values by index.
steps = st.lists(
    st.tuples(
        st.sampled_from(["seed", "combine", "bump", "bump-opt", "pair"]),
        st.integers(min_value=0, max_value=1000),
        st.integers(min_value=0, max_value=1000),
        st.integers(min_value=-5, max_value=5),
    ),
    min_size=1,
    max_size=25,
)


def build(plan: list[tuple[str, int, int, int]]) -> tuple[Flow[Any, Any], Any]:
    """A flow executing ``plan``, and the plain-Python evaluation of the same plan."""

    def run(values: list[Any]) -> Any:
        for kind, i, j, const in plan:
            a = values[i % len(values)]
            b = values[j % len(values)]
            if kind == "seed":
                values.append(seed(const))
            elif kind == "combine":
                values.append(combine(a, b))
            elif kind == "bump":
                values.append(bump(a, const))
            elif kind == "bump-opt":
                values.append(bump.options(timeout="5m")(a))
            else:
                _, high = pair(a)
                values.append(high)
        return values[-1]

    @flow(image="img")
    def random_flow(x: int = 2) -> int:
        return run([x])

    expected = run([2])  # outside a trace, tasks are plain functions
    return random_flow, expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_random_flows_compile_to_valid_argo(plan: list[tuple[str, int, int, int]]) -> None:
    """Every random flow compiles (both kinds) to a manifest the schema and lint accept,
    and its templates are one per task definition and options."""
    random_flow, _ = build(plan)
    try:
        doc = compile_dict(random_flow)
    except FlowDSLError as exc:  # a flow error is allowed, a crash is not
        raise AssertionError(f"unexpected flowdsl error: {exc}") from exc
    assert_valid_argo(doc)
    assert_valid_argo(compile_dict(random_flow, kind="template"))
    leaves = [t["name"] for t in doc["spec"]["templates"][1:]]
    used = {kind for kind, *_ in plan}
    assert len(leaves) == len(used)
    dag = doc["spec"]["templates"][0]["dag"]["tasks"]
    assert len(dag) == len(plan)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["seed", "combine", "bump", "bump-opt", "pair"]),
            st.integers(min_value=0, max_value=1000),
            st.integers(min_value=0, max_value=1000),
            st.integers(min_value=-5, max_value=5),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_random_flows_run_locally_like_python(plan: list[tuple[str, int, int, int]]) -> None:
    """The compiled manifest, run by the local engine, gives what calling the functions in
    order gives (the same values through Argo's parameters, templates and runtime)."""
    import tempfile
    from pathlib import Path

    import flowdsl

    random_flow, expected = build(plan)
    with tempfile.TemporaryDirectory() as tmp:
        run = flowdsl.run(random_flow, progress="off", run_dir=Path(tmp) / "run")
        assert run.status == "Succeeded", run.local.message
        assert run.result == expected


@task
def add(x: int, offset: int) -> int:
    return x + offset


@task
def total(xs: list[int]) -> int:
    return sum(xs)


#: Constant lists of each shape lowering treats apart: consecutive ints either way (a
#: withSequence), and any ints (withItems).
map_items = st.one_of(
    st.builds(lambda lo, n: list(range(lo, lo + n)), st.integers(-5, 5), st.integers(1, 4)),
    st.builds(lambda hi, n: list(range(hi, hi - n, -1)), st.integers(-5, 5), st.integers(1, 4)),
    st.lists(st.integers(-50, 50), min_size=1, max_size=4),
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(map_items, st.integers(min_value=-3, max_value=3), st.booleans())
def test_random_maps_run_locally_like_python(items: list[int], offset: int, wrap: bool) -> None:
    """A map over a constant list, with an unmapped flow parameter, with or without its own
    parallelism (a wrapper DAG), then a fan-in: valid for Argo, and locally what Python
    gives."""
    import tempfile
    from pathlib import Path

    import flowdsl
    from flowdsl import unmapped

    each = add.options(parallelism=2) if wrap else add

    @flow(image="img")
    def mapped(k: int = offset) -> int:
        return total(each.map(items, unmapped(k)))

    assert_valid_argo(compile_dict(mapped))
    with tempfile.TemporaryDirectory() as tmp:
        run = flowdsl.run(mapped, progress="off", run_dir=Path(tmp) / "run")
        assert run.status == "Succeeded", run.local.message
        assert run.result == sum(item + offset for item in items)
