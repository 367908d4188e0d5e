"""The mesh simulator's /metrics text: every provider's series in Prometheus' text format.

What prometheus_client's `generate_latest` would write for the same families and samples, byte
for byte (tests/unit/test_meshsim_exposition.py holds it to that), at a fraction of the cost:
with a thousand workloads, building sample objects and formatting and escaping every label of
every sample on each scrape (once a second) took more than half a core. Here the lines'
text up to the value (name and sorted, escaped labels) is worked out once per workload, when
its routes or its pod's name change, and a workload's lines are written again only when its
counts have changed: a `Series` changes only by answering requests, so its count tells.

It holds no I/O and no simulation: it reads `Traffic` and the providers' declarations
(`exporters.base`).
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from canary.sandbox.exporters.base import (
    Count,
    Exported,
    Family,
    Latency,
    MeshsimProvider,
    Outcome,
    Traffic,
)
from canary.sandbox.meshsim_model import LATENCY_BUCKETS_MS, Feed, Series
from canary.sandbox.meshsim_objects import Key

_BOUNDS_MS = (*(f"{b:g}" for b in LATENCY_BUCKETS_MS), "+Inf")
_BOUNDS_SECONDS = (*(f"{b / 1000:g}" for b in LATENCY_BUCKETS_MS), "+Inf")
_GO_INTEGER_LIMIT = 1_000_000  # from here on Go (and floatToGoString) writes an exponent
_GO_FLOAT: Final[Callable[[float], str]] = floatToGoString  # the library leaves it untyped


def number(value: float) -> str:
    """`value` as the text format writes it (`floatToGoString`), quicker for small integers."""
    if type(value) is int and value < _GO_INTEGER_LIMIT:  # negative ones too: no exponent
        return f"{value}.0"
    return _GO_FLOAT(value)


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _prefix(name: str, labels: Mapping[str, str]) -> str:
    """A sample's line up to its value: the name and the labels, sorted by name."""
    if not labels:
        return f"{name} "
    pairs = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return f"{name}{{{pairs}}} "


def _bucket_prefixes(
    name: str, labels: Mapping[str, str], bounds: Sequence[str]
) -> tuple[str, ...]:
    """`_prefix` of each bucket's line of a histogram: its labels with `le`, sorted once."""
    pairs = sorted({**labels, "le": ""}.items())
    at = [k for k, _ in pairs].index("le")
    head = "".join(f'{k}="{_escape(v)}",' for k, v in pairs[:at])
    tail = "".join(f',{k}="{_escape(v)}"' for k, v in pairs[at + 1 :])
    return tuple(f'{name}{{{head}le="{bound}"{tail}}} ' for bound in bounds)


class _EmptyFamily(Collector):
    def __init__(self, family: Family) -> None:
        self._family = family

    def collect(self) -> Iterator[Metric]:
        family = self._family
        yield Metric(family.name, family.documentation, family.type)


def header(family: Family) -> str:
    """The HELP and TYPE lines of `family`, as prometheus_client writes them."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_EmptyFamily(family))
    return generate_latest(registry).decode()


@dataclass(frozen=True)
class _CountLine:
    outcome: Outcome
    prefix: str


@dataclass(frozen=True)
class _HistogramLines:
    outcome: Outcome
    seconds: bool
    buckets: tuple[str, ...]  # the prefix of each bucket's line, +Inf last
    count: str
    sum: str


_Lines = _CountLine | _HistogramLines


def _lines(sample: Count | Latency) -> _Lines:
    family = sample.family
    if isinstance(sample, Count):
        name = f"{family.name}_total" if family.type == "counter" else family.name
        return _CountLine(sample.outcome, _prefix(name, sample.labels))
    bounds = _BOUNDS_SECONDS if sample.seconds else _BOUNDS_MS
    return _HistogramLines(
        outcome=sample.outcome,
        seconds=sample.seconds,
        buckets=_bucket_prefixes(f"{family.name}_bucket", sample.labels, bounds),
        count=_prefix(f"{family.name}_count", sample.labels),
        sum=_prefix(f"{family.name}_sum", sample.labels),
    )


class _Counts:
    """One workload's counts as its lines read them, each cumulative histogram worked out once
    per scrape however many families show it."""

    def __init__(self, series: Series) -> None:
        self._series = series
        self._cumulative: dict[Outcome, list[int]] = {}

    def count(self, outcome: Outcome) -> int:
        series = self._series
        match outcome:
            case Outcome.ALL:
                return series.count
            case Outcome.SUCCEEDED:
                return series.successes
            case Outcome.FAILED:
                return series.failures

    def cumulative(self, outcome: Outcome) -> list[int]:
        """The histogram's bucket counts, cumulative, +Inf last."""
        if (known := self._cumulative.get(outcome)) is not None:
            return known
        series = self._series
        match outcome:
            case Outcome.ALL:
                counts: Iterable[int] = series.buckets
            case Outcome.SUCCEEDED:
                counts = map(operator.sub, series.buckets, series.failure_buckets)
            case Outcome.FAILED:
                counts = series.failure_buckets
        totals = self._cumulative[outcome] = list(itertools.accumulate(counts))
        return totals

    def latency_sum(self, outcome: Outcome, *, seconds: bool) -> float:
        series = self._series
        match outcome:
            case Outcome.ALL:
                total = series.latency_sum_ms
            case Outcome.SUCCEEDED:
                total = series.latency_sum_ms - series.failure_latency_sum_ms
            case Outcome.FAILED:
                total = series.failure_latency_sum_ms
        return total / 1000 if seconds else total


def _text(lines: Sequence[_Lines], counts: _Counts) -> str:
    """One workload's lines of one family, with its current counts."""
    out: list[str] = []
    for line in lines:
        if line.outcome is not Outcome.ALL and not counts.count(line.outcome):
            continue  # no request of that outcome yet: no series
        if isinstance(line, _CountLine):
            out.append(f"{line.prefix}{number(counts.count(line.outcome))}\n")
            continue
        totals = counts.cumulative(line.outcome)
        if max(totals) < _GO_INTEGER_LIMIT:  # the common case, without a call per bucket
            out += [
                f"{prefix}{total}.0\n" for prefix, total in zip(line.buckets, totals, strict=True)
            ]
        else:
            out += [
                f"{prefix}{number(total)}\n"
                for prefix, total in zip(line.buckets, totals, strict=True)
            ]
        out.append(f"{line.count}{number(totals[-1])}\n")
        out.append(f"{line.sum}{number(counts.latency_sum(line.outcome, seconds=line.seconds))}\n")
    return "".join(out)


@dataclass
class _Workload:
    """One workload's rendering: its lines per family, and the text of them for the counts
    of `series` when it had answered `count` requests."""

    feeds: tuple[Feed, ...]
    pod_name: str
    lines: dict[int, list[_Lines]]  # family index -> lines
    series: Series | None = None
    count: int = -1
    texts: tuple[tuple[int, str], ...] = ()


class Exposition:
    """Renders `providers`' series for the workloads of a `Traffic`, remembering each
    workload's lines and text between two calls (workloads gone are forgotten)."""

    def __init__(self, providers: Sequence[MeshsimProvider]) -> None:
        self._series = [p.series for p in providers if p.series is not None]
        exporting = [p for p in providers if p.series is not None]
        # Families are told apart by their provider too: Envoy's names are declared thrice.
        owned = [(at, f) for at, p in enumerate(exporting) for f in p.families]
        self._index = {entry: index for index, entry in enumerate(owned)}
        self._headers = [header(family) for _, family in owned]
        self._workloads: dict[Key, _Workload] = {}

    def render(self, traffic: Traffic) -> str:
        """The text of every family, each workload's series in the order of `traffic.series`."""
        blocks: list[list[str]] = [[text] for text in self._headers]
        kept: dict[Key, _Workload] = {}
        for key, series in traffic.series.items():
            workload = self._workload(key, traffic)
            if workload.series is not series or workload.count != series.count:
                counts = _Counts(series)
                workload.texts = tuple(
                    (index, _text(lines, counts)) for index, lines in workload.lines.items()
                )
                workload.series, workload.count = series, series.count
            for index, text in workload.texts:
                blocks[index].append(text)
            kept[key] = workload
        self._workloads = kept
        return "".join(text for block in blocks for text in block)

    def _workload(self, key: Key, traffic: Traffic) -> _Workload:
        feeds = traffic.routes.get(key, ())
        pod_name = traffic.pod_name(key)
        known = self._workloads.get(key)
        if known is not None and known.feeds == feeds and known.pod_name == pod_name:
            return known
        exported = Exported(key=key, feeds=feeds, pod_name=pod_name)
        lines: dict[int, list[_Lines]] = {}
        for at, series_of in enumerate(self._series):
            for sample in series_of(exported):
                index = self._index[(at, sample.family)]
                lines.setdefault(index, []).append(_lines(sample))
        return _Workload(feeds=feeds, pod_name=pod_name, lines=dict(sorted(lines.items())))


def render(traffic: Traffic, providers: Sequence[MeshsimProvider]) -> str:
    """The text of `providers`' series for `traffic`, from scratch (tests, one-off uses)."""
    return Exposition(providers).render(traffic)
