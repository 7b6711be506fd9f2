"""End to end against a real Argo Server: register, submit and wait for the examples.

Runs only with ``nox -s e2e`` (or ``pytest -m e2e``) and ``ARGO_SERVER`` set, e.g. against a
local k3d or kind cluster with Argo Workflows installed (see docs/client.md). The pods need
an image that contains flowdsl and the examples: set ``FLOWDSL_E2E_IMAGE`` to one, else the
examples' own image names are used. ``FLOWDSL_E2E_TIMEOUT`` bounds each wait (default 600 s).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.environ.get("ARGO_SERVER"),
        reason="ARGO_SERVER is not set: no Argo server to test against",
    ),
]

EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
TIMEOUT = float(os.environ.get("FLOWDSL_E2E_TIMEOUT", "600"))


def _with_image(manifest: dict[str, Any]) -> dict[str, Any]:
    image = os.environ.get("FLOWDSL_E2E_IMAGE")
    if not image:
        return manifest
    doc = copy.deepcopy(manifest)
    defaults = doc["spec"].get("templateDefaults") or {}
    for template in [*doc["spec"]["templates"], defaults]:
        for kind in ("container", "script"):
            if kind in template:
                template[kind]["image"] = image
    return doc


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from flowdsl.client import Client

    with Client() as c:
        yield c


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_submit_and_wait(client: Any, path: Path) -> None:
    """Each example runs to success on the cluster."""
    from flowdsl._compile import compile_dict
    from flowdsl._target import load_flow

    flow = load_flow(str(path))
    state = client.create_workflow(_with_image(compile_dict(flow)), flow=flow.name)
    submission = client.submission(state.name, flow=flow)
    final = submission.wait(TIMEOUT)
    assert final.ok, [f"{n.display_name}: {n.message}" for n in final.failed_nodes()]
    # The result travels through the pods' stdout (outputs.result), the templateDefaults and
    # the fan-ins exactly as the local engine runs them: both give the same value (flows
    # whose result depends on the time they run aside).
    from flowdsl.scheduling import is_scheduled_time

    if flow.returns is not None and not any(is_scheduled_time(p.annotation) for p in flow.params):
        import flowdsl

        assert submission.result() == flowdsl.run(flow, progress="off").result


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_register_and_submit_from_template(client: Any, path: Path) -> None:
    """Each example registers as a WorkflowTemplate (twice: create, update) and runs from it."""
    from flowdsl._compile import compile_dict
    from flowdsl._target import load_flow

    flow = load_flow(str(path))
    template = _with_image(compile_dict(flow, kind="template"))
    client.register_template(template, flow=flow.name)
    _, created = client.register_template(template, flow=flow.name)
    assert not created
    state = client.submit_template(flow.name, labels={"flowdsl/flow": flow.name})
    final = client.submission(state.name, flow=flow).wait(TIMEOUT)
    assert final.ok, [f"{n.display_name}: {n.message}" for n in final.failed_nodes()]
