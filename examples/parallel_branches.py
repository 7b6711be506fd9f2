"""Two independent branches, then a task that combines both results.

The scenario from runnable's documentation: ``fetch_prices`` and ``fetch_volumes`` share no
data, so Argo runs them at the same time; ``combine`` waits for both because it uses both
results (flowdsl derives the DAG edges from the data flow).

    python examples/parallel_branches.py compile
"""

from __future__ import annotations

from flowdsl import flow, task


@task
def fetch_prices(symbol: str, days: int) -> list[float]:
    """Closing prices of the last ``days`` days (synthetic here)."""
    base = 100.0 + len(symbol)
    return [round(base + 0.5 * d, 2) for d in range(days)]


@task
def fetch_volumes(symbol: str, days: int) -> list[int]:
    """Traded volumes of the last ``days`` days (synthetic here)."""
    return [1000 * (d + 1) for d in range(days)]


@task
def combine(prices: list[float], volumes: list[int]) -> float:
    """The volume-weighted average price."""
    traded = sum(p * v for p, v in zip(prices, volumes, strict=False))
    return round(traded / sum(volumes), 4)


@flow(image="ghcr.io/acme/flowdsl-examples:0.1")
def parallel_branches(symbol: str = "ACME", days: int = 5) -> float:
    """Fetch prices and volumes in parallel, then compute the VWAP."""
    prices = fetch_prices(symbol, days)
    volumes = fetch_volumes(symbol, days)
    return combine(prices, volumes)


if __name__ == "__main__":
    parallel_branches.main()
