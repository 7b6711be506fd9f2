"""A production pipeline configured by its project's pyproject.toml (see the file beside it).

The tasks say only what differs from the project defaults: ``train`` runs on the GPU
profile, ``notify`` on the lightweight one; every task mounts the shared volume the flow
declares, and reads the warehouse credentials from a Kubernetes secret (never written into
the manifest).

    python -m flowdsl compile examples/production_config/pipeline.py
"""

from __future__ import annotations

from typing import Annotated, Literal

from flowdsl import Param, flow, task
from flowdsl.options import Secret, Volume


@task
def extract(day: str, shards: int) -> list[str]:
    """Write the day's shards to the shared volume; return their paths."""
    return [f"/mnt/shared/{day}/part-{i}.parquet" for i in range(shards)]


@task(profile="gpu", timeout="6h")
def train(paths: list[str], model: Literal["xgboost", "tabnet"]) -> float:
    """Train on the GPU machine."""
    return 0.9 if model == "tabnet" else 0.85


@task(profile="light", secrets={"SLACK_TOKEN": Secret("slack", "token")})
def notify(score: float, channel: str) -> None:
    """Post the score (a small pod)."""
    print(f"#{channel}: {score}")


@flow(volumes=[Volume.claim("20Gi", "/mnt/shared", name="shared", storage_class="standard-rwo")])
def pipeline(
    day: Annotated[str, Param(description="the partition to process, YYYY-MM-DD")] = "2026-01-01",
    shards: int = 8,
    model: Literal["xgboost", "tabnet"] = "tabnet",
    channel: str = "ml-alerts",
) -> float:
    """Extract a day of data, train, and report."""
    paths = extract(day, shards)
    score = train(paths, model)
    notify(score, channel)
    return score


if __name__ == "__main__":
    pipeline.main()
