"""Metrics derived from events, aggregated by the OpenTelemetry SDK (docs/otlp.md).

``measurements`` says, as plain data, what one event adds to which instrument with which
attributes — the tests recompute the same numbers from the events on their own.
:class:`DerivedMetrics` feeds them into SDK instruments, one ``MeterProvider`` per resource
(the client and runtime of the events), and reads the aggregate back for export.

Temporality is **cumulative** (the SDK's default, and what Prometheus-style backends expect):
each export carries the totals since the sink started, so a request that is retried, or
delivered twice, repeats a total instead of adding to it. Points are stamped with the export
time — OpenTelemetry has no way to back-date a measurement — while the log records keep the
events' own times.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

from agentlytics.otel.mapping import TOOL_FAMILIES, AttrValue, passes_audit

if TYPE_CHECKING:
    from agentlytics.query.pricing import PriceTable

Kind = Literal["counter", "histogram"]


class Instrument(NamedTuple):
    kind: Kind
    unit: str
    description: str


#: Every derived instrument: name → (kind, unit, description). Durations are in seconds, as the
#: semantic conventions ask; histograms are explicit-bucket with ``DURATION_BUCKETS``.
INSTRUMENTS: Final[Mapping[str, Instrument]] = {
    "codex.tool.calls": Instrument("counter", "{call}", "Completed tool calls."),
    "codex.tool.duration": Instrument("histogram", "s", "Tool call duration (duration_ms)."),
    "codex.reviews": Instrument("counter", "{review}", "Completed approval reviews."),
    "codex.review.duration": Instrument("histogram", "s", "Review latency (duration_ms)."),
    "codex.turns": Instrument("counter", "{turn}", "Finished turns."),
    "codex.turn.duration": Instrument("histogram", "s", "Turn duration (duration_ms)."),
    "codex.tokens": Instrument("counter", "{token}", "Tokens used, by model and token kind."),
    "codex.goal.events": Instrument("counter", "{event}", "Goal lifecycle events."),
    "codex.hook.runs": Instrument("counter", "{run}", "Hook runs."),
    "codex.compactions": Instrument("counter", "{compaction}", "Context compactions."),
    "codex.cost.usd": Instrument(
        "counter", "{USD}", "Estimated cost of turns on priced models (the reports' price table)."
    ),
    "codex.turns.unpriced": Instrument(
        "counter", "{turn}", "Turns with tokens on a model the price table does not know."
    ),
}
DURATION_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    600.0, 1800.0, 3600.0,
)  # fmt: skip

#: Token fields of a turn or guardian review → ``gen_ai.token.type`` value. ``input`` and
#: ``output`` are the semantic conventions' values; cached input is part of input, reasoning
#: output part of output (so the kinds overlap: do not add them all up).
TOKEN_KINDS: Final = (
    ("input_tokens", "input"),
    ("cached_input_tokens", "cached_input"),
    ("cache_write_input_tokens", "cache_write_input"),
    ("output_tokens", "output"),
    ("reasoning_output_tokens", "reasoning_output"),
)


class Measurement(NamedTuple):
    instrument: str
    value: float
    attributes: dict[str, AttrValue]


def _attrs(**pairs: Any) -> dict[str, AttrValue]:
    """Attributes without the null ones (an OTLP attribute cannot be null)."""
    return {key.replace("__", "."): v for key, v in pairs.items() if v is not None}


def _seconds(ms: Any) -> float | None:
    return ms / 1000.0 if isinstance(ms, int) and not isinstance(ms, bool) and ms >= 0 else None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class _Checked:
    """An event's params as the metrics read them: a string the privacy audit forbids reads as
    null, so it is left out of the point's attributes as it is withheld from the log record."""

    __slots__ = ("event_type", "params")

    def __init__(self, event_type: str, params: Mapping[str, Any]) -> None:
        self.event_type = event_type
        self.params = params

    def get(self, field: str) -> Any:
        value = self.params.get(field)
        if isinstance(value, str) and not passes_audit(
            self.event_type, f"event_params.{field}", value, False
        ):
            return None
        return value


def measurements(
    event_type: str, params: Mapping[str, Any], prices: PriceTable | None = None
) -> Iterator[Measurement]:
    """What one event adds to the derived instruments (nothing, for most families).

    With ``prices``, a turn's tokens are also priced as the reports price them
    (:mod:`agentlytics.query.pricing`): a cost on a known model, an unpriced turn otherwise.
    String fields go through the privacy audit's checks first (:class:`_Checked`).
    """
    kind = TOOL_FAMILIES.get(event_type)
    if kind is None and event_type not in _MEASURED:
        return
    checked = _Checked(event_type, params)
    if kind is not None:
        tool = _attrs(
            codex__tool__kind=kind,
            gen_ai__tool__name=checked.get("tool_name"),
            codex__tool__outcome=checked.get("terminal_status"),
        )
        yield Measurement("codex.tool.calls", 1, tool)
        seconds = _seconds(checked.get("duration_ms"))
        if seconds is not None:
            yield Measurement("codex.tool.duration", seconds, tool)
    elif event_type == "codex_review_event":
        review = _attrs(
            codex__review__subject=checked.get("subject_kind"),
            codex__review__reviewer=checked.get("reviewer"),
            codex__review__outcome=checked.get("status"),
        )
        yield Measurement("codex.reviews", 1, review)
        seconds = _seconds(checked.get("duration_ms"))
        if seconds is not None:
            yield Measurement("codex.review.duration", seconds, review)
    elif event_type == "codex_turn_event":
        status = checked.get("status")
        model = checked.get("model")
        yield Measurement(
            "codex.turns", 1, _attrs(codex__turn__status=status, gen_ai__request__model=model)
        )
        seconds = _seconds(checked.get("duration_ms"))
        if seconds is not None:
            yield Measurement("codex.turn.duration", seconds, _attrs(codex__turn__status=status))
        yield from _tokens(checked, model, "turn")
        if prices is not None:
            yield from _cost(checked, model, prices)
    elif event_type == "codex_guardian_review":
        yield from _tokens(checked, checked.get("guardian_model"), "guardian_review")
    elif event_type == "codex_goal_event":
        yield Measurement(
            "codex.goal.events",
            1,
            _attrs(
                codex__goal__event_kind=checked.get("event_kind"),
                codex__goal__status=checked.get("goal_status"),
            ),
        )
    elif event_type == "codex_hook_run":
        yield Measurement(
            "codex.hook.runs",
            1,
            _attrs(
                codex__hook__name=checked.get("hook_name"),
                codex__hook__source=checked.get("hook_source"),
                codex__hook__status=checked.get("status"),
            ),
        )
    elif event_type == "codex_compaction_event":
        yield Measurement(
            "codex.compactions",
            1,
            _attrs(
                codex__compaction__trigger=checked.get("trigger"),
                codex__compaction__phase=checked.get("phase"),
                codex__compaction__status=checked.get("status"),
            ),
        )


_MEASURED: Final = frozenset(
    {
        "codex_review_event",
        "codex_turn_event",
        "codex_guardian_review",
        "codex_goal_event",
        "codex_hook_run",
        "codex_compaction_event",
    }
)


def _tokens(params: _Checked, model: Any, source: str) -> Iterator[Measurement]:
    for field, token_type in TOKEN_KINDS:
        n = _count(params.get(field))
        if n:
            yield Measurement(
                "codex.tokens",
                n,
                _attrs(
                    gen_ai__request__model=model,
                    gen_ai__token__type=token_type,
                    codex__token__source=source,
                ),
            )


def _cost(params: _Checked, model: Any, prices: PriceTable) -> Iterator[Measurement]:
    counts = [params.get(field) for field, _ in TOKEN_KINDS if field != "cache_write_input_tokens"]
    tokens = [n if isinstance(n, int) and not isinstance(n, bool) else None for n in counts]
    if not (tokens[0] or 0) + (tokens[2] or 0):
        return  # no tokens: nothing to price (the reports count no cost either)
    name = model if isinstance(model, str) else None
    cost = prices.estimate(name, tokens[0], tokens[1], tokens[2], tokens[3])
    if cost is None:
        yield Measurement("codex.turns.unpriced", 1, _attrs(gen_ai__request__model=name))
    elif cost > 0:
        yield Measurement("codex.cost.usd", cost, _attrs(gen_ai__request__model=name))


class _Meters:
    """One resource's provider, reader and instruments."""

    def __init__(self, resource: Any) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        from agentlytics.version import __version__

        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(
            metric_readers=[self.reader], resource=resource, shutdown_on_exit=False
        )
        meter = self.provider.get_meter("agentlytics", __version__)
        self.record: dict[str, Callable[[float, dict[str, AttrValue]], None]] = {}
        for name, (kind, unit, description) in INSTRUMENTS.items():
            if kind == "counter":
                self.record[name] = meter.create_counter(name, unit, description).add
            else:
                histogram = meter.create_histogram(
                    name, unit, description, explicit_bucket_boundaries_advisory=DURATION_BUCKETS
                )
                self.record[name] = histogram.record


class DerivedMetrics:
    """Cumulative derived metrics, one SDK ``MeterProvider`` per resource."""

    def __init__(self, prices: PriceTable | None = None) -> None:
        self.prices = prices
        self._meters: dict[Any, _Meters] = {}
        #: Something was recorded since the last :meth:`collect` that was marked exported.
        self.dirty = False

    def record(self, resource: Any, event_type: str, params: Mapping[str, Any]) -> int:
        """Add one event's measurements under ``resource`` (an SDK ``Resource``); how many."""
        found = list(measurements(event_type, params, self.prices))
        if not found:
            return 0
        meters = self._meters.get(resource)
        if meters is None:
            meters = self._meters[resource] = _Meters(resource)
        for name, value, attributes in found:
            meters.record[name](value, attributes)
        self.dirty = True
        return len(found)

    def collect(self) -> Any:
        """The totals so far as SDK ``MetricsData`` (every resource), or None if none yet."""
        from opentelemetry.sdk.metrics.export import MetricsData

        resource_metrics: list[Any] = []
        for meters in self._meters.values():
            data = meters.reader.get_metrics_data()
            if data is not None:
                resource_metrics.extend(data.resource_metrics)
        return MetricsData(resource_metrics=resource_metrics) if resource_metrics else None

    def shutdown(self) -> None:
        for meters in self._meters.values():
            meters.provider.shutdown()
        self._meters.clear()
