"""A map over a sub-flow that itself has parallel branches containing a map.

For each region (a map over the ``region_report`` sub-flow), list the region's shards, then
in two parallel branches measure every shard and count the words of every shard (a map in
each branch), and summarise the region; finally combine the regions. Three levels deep, as
in runnable's nesting example.

    python examples/nested_map.py compile
    python examples/nested_map.py run -p 'regions=["eu", "us"]'
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from flowdsl import flow, task


@dataclass
class RegionReport:
    """What one region holds."""

    region: str
    shards: int
    total_size: float
    total_words: int


@task
def list_shards(region: str, count: int) -> list[str]:
    """The shard names of a region."""
    return [f"{region}-shard-{i}" for i in range(count)]


@task
def measure(shard: str) -> float:
    """The size of one shard in GB (derived from its name, for the example)."""
    return round((zlib.crc32(shard.encode()) % 1000) / 10, 1)


@task
def count_words(shard: str) -> int:
    """The number of words in one shard."""
    return zlib.adler32(shard.encode()) % 10_000


@task
def summarise_region(region: str, sizes: list[float], words: list[int]) -> RegionReport:
    """Fan-in of both branches."""
    return RegionReport(region, len(sizes), round(sum(sizes), 1), sum(words))


@flow
def region_report(region: str, shards: int = 2) -> RegionReport:
    """One region: two parallel maps over its shards, then a summary."""
    names = list_shards(region, shards)
    sizes = measure.map(names)
    words = count_words.map(names)
    return summarise_region(region, sizes, words)


@task
def combine(reports: list[RegionReport]) -> dict[str, float]:
    """Total size per region."""
    return {r.region: r.total_size for r in reports}


@flow(image="ghcr.io/acme/analytics:2.0")
def nested_map(regions: list[str] = ["eu", "us", "apac"], shards: int = 2) -> dict[str, float]:  # noqa: B006 - a default the flow never mutates
    """Report on every region, in parallel."""
    reports = region_report.map(regions, shards=shards)
    return combine(reports)


if __name__ == "__main__":
    nested_map.main()
