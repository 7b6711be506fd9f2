"""Each node of the pipeline on the machine type it needs (the profiles in pyproject.toml).

python -m flowdsl compile examples/machine_types/training.py
"""

from __future__ import annotations

from flowdsl import flow, task


@task(profile="standard")
def load(table: str) -> list[float]:
    """Read the training table."""
    return [float(len(table))] * 3


@task(profile="highmem")
def featurise(rows: list[float]) -> list[float]:
    """Build features in memory."""
    return [r * 2 for r in rows]


@task(profile="gpu-large", retries=2)
def fit(features: list[float]) -> float:
    """Fit the model on two GPUs."""
    return sum(features) / len(features)


@flow
def training(table: str = "customers") -> float:
    """Load, featurise and fit, each on its machine type."""
    return fit(featurise(load(table)))


if __name__ == "__main__":
    training.main()
