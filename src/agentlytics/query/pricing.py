"""Offline cost estimates: a bundled, dated price table (``prices.toml``), overridable.

Token convention (Codex ``TokenUsage``): ``cached_input_tokens`` are part of ``input_tokens``
and ``reasoning_output_tokens`` part of ``output_tokens``. A turn therefore costs::

    (input - cached) × input_price + cached × cached_price
    + (output - reasoning) × output_price + reasoning × reasoning_price   (per 1M tokens)

A model the table does not know has no cost (None) — never 0 — and reports list it as
unpriced. Long-context surcharges and batch/flex discounts are not modelled.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

import msgspec

from agentlytics.config import PricingConfig


class ModelPrice(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """USD per 1M tokens of each kind."""

    input: float
    cached_input: float
    output: float
    reasoning: float


class PriceTable(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A dated price table: where its prices come from, as of when, and the prices."""

    source: str
    as_of: str
    models: dict[str, ModelPrice]

    def price(self, model: str | None) -> ModelPrice | None:
        return None if model is None else self.models.get(model)

    def estimate(
        self,
        model: str | None,
        input_tokens: int | None,
        cached_input_tokens: int | None,
        output_tokens: int | None,
        reasoning_output_tokens: int | None,
    ) -> float | None:
        """Estimated USD of these tokens on ``model``; None when the model is not priced."""
        price = self.price(model)
        if price is None:
            return None
        inp, cached = input_tokens or 0, cached_input_tokens or 0
        out, reasoning = output_tokens or 0, reasoning_output_tokens or 0
        return (
            (inp - cached) * price.input
            + cached * price.cached_input
            + (out - reasoning) * price.output
            + reasoning * price.reasoning
        ) / 1_000_000

    def with_overrides(self, config: PricingConfig) -> PriceTable:
        """This table with the configured models added or replaced."""
        if not config.models:
            return self
        models = dict(self.models)
        for name, entry in config.models.items():
            models[name] = ModelPrice(
                input=entry.input,
                cached_input=entry.input if entry.cached_input is None else entry.cached_input,
                output=entry.output,
                reasoning=entry.output if entry.reasoning is None else entry.reasoning,
            )
        return PriceTable(f"{self.source} + configuration", self.as_of, models)


@cache
def bundled() -> PriceTable:
    """The price table shipped with agentlytics (``agentlytics/query/prices.toml``)."""
    text = resources.files("agentlytics.query").joinpath("prices.toml").read_text("utf-8")
    return msgspec.convert(tomllib.loads(text), PriceTable)


def estimate_cost(
    model: str | None,
    input_tokens: int | None,
    cached_input_tokens: int | None,
    output_tokens: int | None,
    reasoning_output_tokens: int | None,
    *,
    prices: PriceTable | None = None,
) -> float | None:
    """Estimated USD of a token count on ``model`` (None: the model is unpriced)."""
    table = bundled() if prices is None else prices
    return table.estimate(
        model, input_tokens, cached_input_tokens, output_tokens, reasoning_output_tokens
    )
