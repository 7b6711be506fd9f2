"""Quickstart: three typed tasks, a Literal and a bool parameter, a structured result.

python examples/quickstart.py compile        # print the Argo Workflow
python examples/quickstart.py run            # run it on this machine
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from typing import Annotated, Literal

from flowdsl import Param, flow, task


@dataclass
class Summary:
    """What the flow reports about the cleaned sample."""

    count: int
    centre: float
    spread: float


@task
def sample(size: int, seed: int = 7) -> list[float]:
    """Draw ``size`` measurements (a stand-in for reading a data source)."""
    rng = random.Random(seed)
    return [round(rng.gauss(50.0, 15.0), 2) for _ in range(size)]


@task
def clean(values: list[float], drop_outliers: bool) -> list[float]:
    """Keep values within three standard deviations when asked to."""
    if not drop_outliers or len(values) < 2:
        return values
    mean, stdev = statistics.fmean(values), statistics.stdev(values)
    return [v for v in values if abs(v - mean) <= 3 * stdev]


@task(retries=2)
def summarise(values: list[float], method: Literal["mean", "median"]) -> Summary:
    """Summarise the sample by its mean or its median."""
    centre = statistics.fmean(values) if method == "mean" else statistics.median(values)
    spread = statistics.pstdev(values) if len(values) > 1 else 0.0
    return Summary(count=len(values), centre=round(centre, 3), spread=round(spread, 3))


@flow(image="ghcr.io/acme/flowdsl-examples:0.1")
def quickstart(
    size: Annotated[int, Param(description="how many measurements to draw")] = 200,
    method: Literal["mean", "median"] = "median",
    drop_outliers: bool = True,
) -> Summary:
    """Sample, clean and summarise a batch of measurements.

    Args:
        method: the statistic used as the centre.
        drop_outliers: remove values more than three standard deviations out.
    """
    values = sample(size)
    kept = clean(values, drop_outliers)
    return summarise(kept, method)


if __name__ == "__main__":
    quickstart.main()
