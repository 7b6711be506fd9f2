"""Records read from the server: workflow and node states, pod names, times."""

from __future__ import annotations

from datetime import datetime, timezone

from flowdsl.client.status import WorkflowState, parse_time, pod_name

WF = {
    "metadata": {
        "name": "wf",
        "namespace": "argo",
        "resourceVersion": "7",
        "labels": {"flowdsl/flow": "f"},
        "creationTimestamp": "2024-01-01T00:00:00Z",
    },
    "spec": {"arguments": {"parameters": [{"name": "x", "value": "1"}, {"name": "y"}]}},
    "status": {
        "phase": "Failed",
        "nodes": {
            "wf": {"id": "wf", "name": "wf", "displayName": "wf", "type": "DAG", "phase": "Failed",
                   "children": ["wf-1"]},
            "wf-1": {"id": "wf-1", "name": "wf.train", "displayName": "train", "type": "Retry",
                     "phase": "Failed", "children": ["wf-2", "wf-3"], "templateName": "train",
                     "startedAt": "2024-01-01T00:00:01Z"},
            "wf-2": {"id": "wf-2", "name": "wf.train(0)", "displayName": "train(0)", "type": "Pod",
                     "phase": "Failed", "templateName": "train",
                     "startedAt": "2024-01-01T00:00:02Z",
                     "finishedAt": "2024-01-01T00:00:04.5Z", "message": "OOMKilled",
                     "inputs": {"parameters": [{"name": "lr", "value": "0.1"}]}},
            "wf-3": {"id": "wf-3", "name": "wf.train(1)", "displayName": "train(1)", "type": "Pod",
                     "phase": "Failed", "templateName": "train",
                     "startedAt": "2024-01-01T00:00:05Z"},
        },
    },
}  # fmt: skip


class TestWorkflowState:
    def test_fields(self) -> None:
        """The summary fields come from metadata, spec and status."""
        state = WorkflowState.from_json(WF)
        assert (state.name, state.namespace, state.phase, state.resource_version) == (
            "wf",
            "argo",
            "Failed",
            "7",
        )
        assert state.parameters == {"x": "1", "y": ""}
        assert state.labels == {"flowdsl/flow": "f"}
        assert state.done
        assert not state.ok
        assert "raw" not in repr(state)

    def test_missing_status_is_pending(self) -> None:
        """A workflow the controller has not seen yet is Pending."""
        state = WorkflowState.from_json({"metadata": {"name": "n"}, "spec": {}})
        assert (state.phase, state.nodes, state.done) == ("Pending", (), False)

    def test_failed_nodes_are_root_causes(self) -> None:
        """Only the failed nodes without a failed child count: each failed attempt."""
        state = WorkflowState.from_json(WF)
        assert [n.display_name for n in state.failed_nodes()] == ["train(0)", "train(1)"]

    def test_task_nodes_follow_retries(self) -> None:
        """A task's pod nodes are found below the node with its name, in start order."""
        state = WorkflowState.from_json(WF)
        nodes = state.task_nodes("train")
        assert [n.display_name for n in nodes] == ["train(0)", "train(1)"]
        assert nodes[0].inputs == {"lr": "0.1"}
        assert nodes[0].duration == 2.5
        assert state.task_nodes("nope") == ()

    def test_node_lookup(self) -> None:
        """node() finds by display name, full name or ID."""
        state = WorkflowState.from_json(WF)
        assert state.node("train(0)").id == "wf-2"
        assert state.node("wf.train(1)").id == "wf-3"
        assert state.node("wf-1").type == "Retry"

    def test_pods(self) -> None:
        """Pod names follow Argo's v2 naming for pod nodes only."""
        state = WorkflowState.from_json(WF)
        expected = {
            pod_name("wf", "wf.train(0)", "train", "wf-2", "v2"),
            pod_name("wf", "wf.train(1)", "train", "wf-3", "v2"),
        }
        assert set(state.pods()) == expected

    def test_model(self) -> None:
        """The raw answer parses into Hera's Workflow model on demand."""
        assert WorkflowState.from_json(WF).model().metadata.name == "wf"


class TestPodName:
    def test_v2(self) -> None:
        """v2: <workflow>-<template>-<fnv-1a 32 of the node name>."""
        # FNV-1a test vectors: "" -> 0x811c9dc5, "a" -> 0xe40c292c.
        assert pod_name("wf", "", "t", "id", "v2") == f"wf-t-{0x811C9DC5}"
        assert pod_name("wf", "a", "t", "id", "v2") == f"wf-t-{0xE40C292C}"

    def test_v1_and_root(self) -> None:
        """v1 uses the node ID; the root node's pod is the workflow's name."""
        assert pod_name("wf", "wf.x", "t", "wf-123", "v1") == "wf-123"
        assert pod_name("wf", "wf", "t", "wf", "v2") == "wf"

    def test_long_prefix_is_cut(self) -> None:
        """The prefix is cut so the name fits Kubernetes' 253 characters."""
        assert len(pod_name("w" * 200, "n", "t" * 100, "id", "v2")) <= 253


class TestParseTime:
    def test_forms(self) -> None:
        """Z, offsets and nanoseconds are read; junk is None."""
        assert parse_time("2024-01-01T00:00:00Z") == datetime(2024, 1, 1, tzinfo=timezone.utc)
        assert parse_time("2024-01-01T00:00:00.123456789Z") == datetime(
            2024, 1, 1, 0, 0, 0, 123456, tzinfo=timezone.utc
        )
        assert parse_time("2024-01-01T02:00:00+02:00") == datetime(2024, 1, 1, tzinfo=timezone.utc)
        assert parse_time("soon") is None
        assert parse_time(None) is None
