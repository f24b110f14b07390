"""Per-model token prices (USD per million tokens) and the cost of a usage."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .models import Tokens


class Price(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    input: float
    output: float
    cache_read: float
    cache_write: float  # 5-minute cache writes


# Anthropic list prices. Keys are matched against the model id, most specific first;
# the tiers (opus/sonnet/haiku) price the current generation.
LIST_PRICES: dict[str, Price] = {
    "claude-opus-4-1": Price(input=15, output=75, cache_read=1.5, cache_write=18.75),
    "claude-opus-4-0": Price(input=15, output=75, cache_read=1.5, cache_write=18.75),
    "claude-opus-4-2025": Price(input=15, output=75, cache_read=1.5, cache_write=18.75),
    "claude-3-5-haiku": Price(input=0.8, output=4, cache_read=0.08, cache_write=1),
    "claude-3-haiku": Price(input=0.25, output=1.25, cache_read=0.03, cache_write=0.3),
    # the 5.x generation, as the bundled Claude Code CLI prices it (haiku-5-5: prompts up to
    # 100k tokens; above that the CLI uses its long-prompt rate)
    "claude-opus-5-5": Price(input=4, output=20, cache_read=0.2, cache_write=5),
    "claude-sonnet-5-5": Price(input=2, output=10, cache_read=0.1, cache_write=2.5),
    "claude-sonnet-5": Price(input=2, output=10, cache_read=0.2, cache_write=2.5),
    "claude-haiku-5-5": Price(input=0.1, output=0.5, cache_read=0.01, cache_write=0.125),
    "claude-fable-5-2": Price(input=8, output=40, cache_read=0.2, cache_write=10),
    "claude-fable-5-1": Price(input=10, output=50, cache_read=0.25, cache_write=12.5),
    "claude-fable-5": Price(input=10, output=50, cache_read=1, cache_write=12.5),
    "claude-mythos-5-2": Price(input=8, output=40, cache_read=0.2, cache_write=10),
    "claude-mythos-5-1": Price(input=10, output=50, cache_read=0.25, cache_write=12.5),
    "claude-mythos-5": Price(input=10, output=50, cache_read=1, cache_write=12.5),
    "opus": Price(input=5, output=25, cache_read=0.5, cache_write=6.25),
    "sonnet": Price(input=3, output=15, cache_read=0.3, cache_write=3.75),
    "haiku": Price(input=1, output=5, cache_read=0.1, cache_write=1.25),
}


class PriceTable:
    """List prices, with the user's overrides from `config.toml` taking precedence."""

    def __init__(self, overrides: dict[str, Price] | None = None) -> None:
        # the user's keys first, then ours; longest key first within each, so that
        # "claude-opus-4-1" wins over "opus" and a user's "sonnet" wins over our "claude-sonnet-5-5"
        mine = {key.lower(): price for key, price in (overrides or {}).items()}
        self._overrides = tuple(mine)
        self._prices = [
            *sorted(mine.items(), key=lambda kv: len(kv[0]), reverse=True),
            *sorted(LIST_PRICES.items(), key=lambda kv: len(kv[0]), reverse=True),
        ]

    def overridden(self, model: str) -> bool:
        """Whether the user's config.toml prices this model."""
        return any(key in model.lower() for key in self._overrides)

    def price(self, model: str | None) -> Price | None:
        if not model:
            return None
        name = model.lower()
        return next((p for key, p in self._prices if key in name), None)

    def cost(self, model: str | None, tokens: Tokens) -> float:
        """Cost in USD; 0 for a model with no known price (e.g. a local command)."""
        p = self.price(model)
        if p is None:
            return 0.0
        return (
            tokens.input * p.input
            + tokens.output * p.output
            + tokens.cache_read * p.cache_read
            + tokens.cache_write * p.cache_write
        ) / 1_000_000
