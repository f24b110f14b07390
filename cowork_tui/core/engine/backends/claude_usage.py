"""Token and cost accounting for a Claude Code agent.

Live figures come from the API's stream events (`message_start` carries the input and cache
tokens, `message_delta` the output so far). The final figures come from the CLI's result
message: `modelUsage` per model and `total_cost_usd`, both cumulative for the CLI process, so
a conversation paused and continued in the same process is counted once, interrupted turns
included. The CLI's cost is the one recorded ("claude-cli"), our price table cross-checks it;
prices the user set in config.toml win over both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...models import Tokens
from ...pricing import PriceTable

COST_TOLERANCE = 0.01  # relative difference above which the two costs are reported


@dataclass(frozen=True)
class ModelUsage:
    tokens: Tokens
    cost_usd: float | None  # as the CLI computed it; None when it did not say


def tokens_of_api_usage(usage: Mapping[str, Any]) -> Tokens:
    """Tokens of an API `usage` object (snake_case, as the Messages API sends it)."""
    return Tokens(
        input=int(usage.get("input_tokens") or 0),
        output=int(usage.get("output_tokens") or 0),
        cache_read=int(usage.get("cache_read_input_tokens") or 0),
        cache_write=int(usage.get("cache_creation_input_tokens") or 0),
    )


def model_usage_of_result(model_usage: Mapping[str, Mapping[str, Any]]) -> dict[str, ModelUsage]:
    """The CLI's `modelUsage` (camelCase, one entry per model)."""
    out = {}
    for model, u in model_usage.items():
        tokens = Tokens(
            input=int(u.get("inputTokens") or 0),
            output=int(u.get("outputTokens") or 0),
            cache_read=int(u.get("cacheReadInputTokens") or 0),
            cache_write=int(u.get("cacheCreationInputTokens") or 0),
        )
        cost = u.get("costUSD")
        out[model] = ModelUsage(tokens, float(cost) if cost is not None else None)
    return out


class UsageMeter:
    """Usage of one agent: the CLI's last result, plus what has streamed since."""

    def __init__(self) -> None:
        self._result: dict[str, ModelUsage] = {}  # per model, cumulative for the CLI process
        self._result_cost: float | None = None
        self._done = Tokens()  # streamed since that result: finished API messages
        self._current = Tokens()  # …and the one being streamed

    def on_stream_event(self, event: Mapping[str, Any]) -> bool:
        """Account one API stream event; True when the live totals changed."""
        kind = event.get("type")
        if kind == "message_start":
            self._current = tokens_of_api_usage(event.get("message", {}).get("usage") or {})
            return True
        if kind == "message_delta" and event.get("usage"):
            usage = event["usage"]
            self._current = self._current.model_copy(
                update={
                    key: int(usage[api_key])
                    for key, api_key in _DELTA_FIELDS.items()
                    if usage.get(api_key) is not None
                }
            )
            return True
        if kind == "message_stop":
            self._done, self._current = self._done + self._current, Tokens()
        return False

    def live_tokens(self) -> Tokens:
        return self.tokens() + self._done + self._current

    def on_result(
        self, model_usage: Mapping[str, Mapping[str, Any]] | None, total: float | None
    ) -> None:
        """A result message; its figures cover everything the CLI process did so far."""
        if model_usage:
            self._result = model_usage_of_result(model_usage)
        if total is not None:
            self._result_cost = float(total)
        self._done = self._current = Tokens()

    def per_model(self) -> dict[str, ModelUsage]:
        return dict(self._result)

    def tokens(self) -> Tokens:
        return sum((u.tokens for u in self._result.values()), Tokens())

    def cost_usd(self) -> float | None:
        """The CLI's cost of everything so far, None if it never reported one."""
        return self._result_cost

    def main_model(self, preferred: str | None) -> str | None:
        """The model to show for the agent: the one it was started with, else the costliest."""
        usage = self.per_model()
        if preferred and (preferred in usage or not usage):
            return preferred
        return max(usage, key=lambda m: usage[m].cost_usd or 0.0, default=preferred)

    def settle(self, prices: PriceTable) -> tuple[float, str, str | None]:
        """The cost to record, whose figure it is ("claude-cli" or "pricing"), and a note when
        the CLI's figure and our price table's differ: the CLI's wins, but for the models the
        user priced in config.toml."""
        usage = self.per_model()
        priced = sum(prices.cost(model, u.tokens) for model, u in usage.items())
        cli = self.cost_usd()
        if cli is None:
            return priced, "pricing", None
        if mine := [model for model in usage if prices.overridden(model)]:
            cost = sum(
                u.cost_usd if model not in mine and u.cost_usd is not None
                else prices.cost(model, u.tokens)
                for model, u in usage.items()
            )  # fmt: skip
            note = f"config.toml prices for {', '.join(mine)}; Claude Code's own: ${cli:.6f}"
            return cost, "pricing", note
        if abs(cli - priced) <= COST_TOLERANCE * max(abs(cli), abs(priced)):
            return cli, "claude-cli", None
        return cli, "claude-cli", f"Claude Code's prices; the price table's: ${priced:.6f}"


_DELTA_FIELDS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_input_tokens",
    "cache_write": "cache_creation_input_tokens",
}
