"""How a Claude Code agent's messages move its run (mixed into `ClaudeRun`).

Whole assistant messages are its output; stream events its step line and live usage; the
result its final usage; system messages its conversation, model and the API's retries. All
but the CLI's own news count as the API being heard from (the stall watchdog's clock).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import anyio

from ...pricing import PriceTable
from .base import RATE_LIMITED, AgentReporter
from .claude_usage import UsageMeter
from .output import BoundedText

if TYPE_CHECKING:
    from claude_agent_sdk import Message, ResultMessage

_STEP_CHARS = 60  # of what the model is writing, shown as the agent's step


class _Priced(Protocol):
    prices: PriceTable


class ClaudeMessages:
    """The message handling of `ClaudeRun`, on the state it keeps."""

    _backend: _Priced
    _reporter: AgentReporter
    _meter: UsageMeter
    _text: BoundedText
    _turn_text: list[str]
    _writing: str
    _session_id: str | None
    _model: str | None
    _assistant_error: str | None
    _synthetic: bool
    _heard: float
    _tool_running: bool
    _warned: bool

    def _handle(self, message: Message) -> ResultMessage | None:
        from claude_agent_sdk import (
            AssistantMessage,
            ResultMessage,
            StreamEvent,
            SystemMessage,
            TextBlock,
            ToolUseBlock,
        )

        if not isinstance(message, SystemMessage):  # the API's traffic (not the CLI's own news)
            self._heard, self._warned = max(self._heard, anyio.current_time()), False
        self._tool_running = isinstance(message, AssistantMessage) and any(
            isinstance(block, ToolUseBlock) for block in message.content
        )
        if isinstance(message, StreamEvent):
            if message.parent_tool_use_id is None:
                self._on_stream_event(message.event)
        elif isinstance(message, SystemMessage):
            self._on_system(message.subtype, message.data)
        elif isinstance(message, AssistantMessage):
            self._learn_conversation(message.session_id)
            self._synthetic = message.model == "<synthetic>"
            if message.error:
                self._assistant_error = message.error
            texts = [b.text for b in message.content if isinstance(b, TextBlock) and b.text]
            if texts and message.parent_tool_use_id is None and not message.error:
                # whole messages only: a stream cut and retried is not written twice
                said = "".join(texts).strip()
                self._turn_text.append(said)
                self._text.add(said + "\n")
                self._reporter.output(said + "\n")
        elif isinstance(message, ResultMessage):
            self._learn_conversation(message.session_id)
            self._meter.on_result(message.model_usage, message.total_cost_usd)
            cost, _, _ = self._meter.settle(self._backend.prices)
            self._reporter.usage(self._meter.tokens(), self._model_name(), cost)
            return message
        return None

    def _on_system(self, subtype: str, data: dict[str, Any]) -> None:
        if subtype == "init":
            self._learn_conversation(data.get("session_id"))
            self._model = data.get("model") or self._model
            self._reporter.usage(self._meter.live_tokens(), self._model)
        elif subtype == "api_retry":  # the CLI waits, then asks again
            delay = float(data.get("retry_delay_ms") or 0) / 1000
            if data.get("error_status") == 429 or data.get("error") == "rate_limit":
                self._heard = anyio.current_time() + delay  # a wait it was told to make
                self._reporter.notice(RATE_LIMITED, f"{RATE_LIMITED}, retrying in {delay:.0f}s")
            else:
                self._reporter.progress(None, f"API error, retrying in {delay:.0f}s")

    def _learn_conversation(self, session_id: str | None) -> None:
        """Claude Code's id of the conversation: recorded, so a resumed session continues it."""
        if session_id and session_id != self._session_id:
            self._session_id = session_id
            self._reporter.conversation(session_id)

    def _on_stream_event(self, event: dict[str, Any]) -> None:
        if self._meter.on_stream_event(event):
            self._reporter.usage(self._meter.live_tokens(), self._model_name())
        kind = event.get("type")
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            step = {"text": "writing…", "thinking": "thinking…"}.get(block.get("type", ""))
            if block.get("type") in {"tool_use", "server_tool_use"}:
                step = f"using {block.get('name', 'a tool')}"
            if step:
                self._writing = ""
                self._reporter.progress(None, step)
        elif kind == "content_block_delta":
            text = (event.get("delta") or {}).get("text")
            if text:
                self._writing = (self._writing + text)[-4 * _STEP_CHARS :]
                last = " ".join(self._writing.split())[-_STEP_CHARS:]
                self._reporter.progress(None, f"writing: …{last}")
        elif kind == "message_start":
            self._reporter.progress(None, "waiting for the model")

    def _model_name(self) -> str | None:
        return self._meter.main_model(self._model)
