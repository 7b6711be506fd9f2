"""Two small preprocessing steps fused into one pod, feeding a normal task.

Parsing and normalising a batch of readings take milliseconds each; a pod each would cost
far more than the work. ``with fused("prep"):`` runs both in one pod, passing the parsed
readings in memory; only ``normalise``'s result leaves the group (as the output parameter
``normalise``), because only ``train`` uses it.

    python examples/fused.py compile
    python examples/fused.py run -p 'raw=3.5,4.0,x,5.5'
"""

from __future__ import annotations

from flowdsl import flow, fused, task


@task
def parse(raw: str) -> list[float]:
    """Parse comma-separated readings, dropping what is not a number."""
    values = []
    for item in raw.split(","):
        try:
            values.append(float(item))
        except ValueError:
            continue
    return values


@task
def normalise(values: list[float], scale: float) -> list[float]:
    """Scale the readings to [0, scale]."""
    top = max(values) if values else 1.0
    return [round(v / top * scale, 4) for v in values]


@task(retries=2)
def train(features: list[float]) -> float:
    """Fit a trivial model: the mean of the features."""
    return round(sum(features) / len(features), 4) if features else 0.0


@flow(image="ghcr.io/acme/ml:1.4")
def fused_prep(raw: str = "1.0,2.0,3.0,4.0", scale: float = 1.0) -> float:
    """Parse and normalise in one pod, then train."""
    with fused("prep"):
        readings = parse(raw)
        features = normalise(readings, scale)
    return train(features)


if __name__ == "__main__":
    fused_prep.main()
