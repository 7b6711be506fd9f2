"""A nightly training flow on a schedule: two cron lines, a time zone, one run at a time.

The run's scheduled time is a typed parameter (``run_at: ScheduledTime``): Argo gives it
``{{workflow.scheduledTime}}`` in cron runs, a backfill gives it each time of its range, and
a manual run gives it the time the run was created.

python examples/nightly.py compile --kind all   # WorkflowTemplate + CronWorkflow
python examples/nightly.py next -n 5            # the next run times, offline
python examples/nightly.py run --at 2026-01-05T03:00
python examples/nightly.py schedule             # create or update it on the Argo Server
python examples/nightly.py backfill --from 2026-01-01 --to 2026-01-07
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Literal

from flowdsl import flow, task
from flowdsl.scheduling import Schedule, ScheduledTime


@dataclass
class Model:
    """What a training run produced."""

    day: str
    mode: str
    rows: int
    accuracy: float


@task
def extract(source: str, day: dt.date) -> list[float]:
    """Read the day's rows (a stand-in: a seeded sample per day)."""
    rng = random.Random(f"{source}:{day.isoformat()}")
    return [rng.random() for _ in range(500)]


@task(retries=2)
def train(rows: list[float], mode: Literal["full", "incremental"], day: dt.date) -> Model:
    """Fit the day's model."""
    accuracy = 0.9 + 0.05 * sum(rows) / len(rows)
    return Model(day=day.isoformat(), mode=mode, rows=len(rows), accuracy=round(accuracy, 4))


@task
def day_of(run_at: ScheduledTime) -> dt.date:
    """The calendar day a run is for: the day before its scheduled time."""
    return (run_at - dt.timedelta(days=1)).date()


@flow(
    image="ghcr.io/acme/flowdsl-examples:0.1",
    schedule=Schedule(
        ["0 3 * * 1-5", "30 6 * * 6"],  # 03:00 on weekdays, 06:30 on Saturdays
        timezone="Europe/Paris",
        concurrency="Forbid",
        starting_deadline="30m",
        history=(7, 3),
    ),
)
def nightly(
    run_at: ScheduledTime,
    source: str = "s3://acme-data/events",
    mode: Literal["full", "incremental"] = "incremental",
) -> Model:
    """Train yesterday's model every night.

    Args:
        run_at: the time the run was scheduled for.
        source: where the daily partitions live.
        mode: full retrain or incremental.
    """
    day = day_of(run_at)
    return train(extract(source, day), mode, day)


if __name__ == "__main__":
    nightly.main()
