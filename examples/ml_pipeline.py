"""Train three model types in parallel, ensemble them, deploy only if good enough.

The pipeline of the Kubeflow/Argo article: preprocess, train a random forest, a gradient
boosting model and a small neural network in parallel (each retried on failure), ensemble
the results, then deploy when the ensemble's accuracy passes a threshold, or notify the team
otherwise. The exit handler reports the run's status whatever happens.

    python examples/ml_pipeline.py compile
    python examples/ml_pipeline.py run -p threshold=0.99
"""

from __future__ import annotations

import hashlib
import statistics
from dataclasses import dataclass
from typing import Annotated, Literal

from flowdsl import Failure, Param, RunStatus, flow, otherwise, task, when

ModelType = Literal["random-forest", "gradient-boosting", "neural-net"]


@dataclass
class Dataset:
    """A prepared dataset (a path to it, and what the model needs to know)."""

    uri: str
    rows: int
    features: int


@dataclass
class Metrics:
    """How one trained model did on the validation split."""

    model: str
    accuracy: float


@task
def preprocess(source: str, sample: int) -> Dataset:
    """Clean the raw data and split it (here: describe the prepared split)."""
    return Dataset(uri=f"{source.rstrip('/')}/prepared", rows=sample, features=12)


@task(retries=3, timeout="2h")
def train(data: Dataset, model: ModelType, epochs: int) -> Metrics:
    """Train one model type (a deterministic stand-in for the real training)."""
    seed = int(hashlib.sha256(f"{model}:{data.rows}".encode()).hexdigest()[:8], 16)
    accuracy = 0.80 + (seed % 1000) / 10000 + min(epochs, 20) / 1000
    return Metrics(model=model, accuracy=round(accuracy, 4))


@task
def ensemble(scores: list[Metrics]) -> Metrics:
    """Average the members' accuracies, with a small bonus for combining them."""
    mean = statistics.fmean(m.accuracy for m in scores)
    return Metrics(model="ensemble", accuracy=round(min(mean + 0.02, 1.0), 4))


@task
def deploy(best: Metrics, target: str) -> str:
    """Push the model to serving; returns the endpoint."""
    return f"https://{target}/models/{best.model}"


@task
def notify(best: Metrics, threshold: float) -> None:
    """Tell the team the model was not good enough."""
    print(f"not deployed: {best.model} reached {best.accuracy}, below {threshold}")


@task
def report(status: RunStatus, failures: list[Failure]) -> None:
    """The exit handler: one line about how the run ended."""
    print(f"run {status}; {len(failures)} failed step(s)")
    for failure in failures:
        print(f"  {failure.get('displayName')}: {failure.get('message')}")


@flow(image="ghcr.io/acme/ml:1.4", on_exit=report)
def ml_pipeline(
    source: str = "s3://acme-data/churn",
    sample: int = 10_000,
    epochs: int = 10,
    threshold: Annotated[float, Param(description="lowest accuracy that deploys")] = 0.85,
    target: Literal["staging", "production"] = "staging",
) -> Metrics:
    """Preprocess, train three models in parallel, ensemble, deploy when accurate enough."""
    data = preprocess(source, sample)
    scores = train.map(
        data, model=["random-forest", "gradient-boosting", "neural-net"], epochs=epochs
    )
    best = ensemble(scores)
    with when(best.accuracy >= threshold):
        deploy(best, target)
    with otherwise():
        notify(best, threshold)
    return best


if __name__ == "__main__":
    ml_pipeline.main()
