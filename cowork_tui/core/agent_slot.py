"""One subtask's agent inside a running session: its live state, and the reporter it runs with.

The slot is mutable and private to the engine; `record()` turns it into the frozen
`AgentRecord` that snapshots carry (rebuilt only after a change).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import anyio

from .backends.base import AgentOutcome, AgentRun, Upstream
from .backends.output import BoundedText, LineTail
from .models import AgentRecord, AgentSpec, AgentState, Subtask, Tokens
from .pricing import PriceTable

PREVIEW_CHARS = 2000
DOWNSTREAM_CHARS = 65_536  # the part of an output handed to the next agent in memory


def utcnow() -> datetime:
    return datetime.now(UTC)


class AgentSlot:
    """Live state of one agent. Implements `AgentReporter` for its backend."""

    def __init__(
        self,
        subtask: Subtask,
        spec: AgentSpec | None,
        prices: PriceTable,
        output_file: Path,
        on_change: Callable[[AgentSlot, bool], None],
    ) -> None:
        self.subtask = subtask
        self.spec = spec  # None: the in-process merge
        self.state = AgentState.PENDING
        self.recorded_state = AgentState.PENDING  # the last state the recorder was told of
        self.run: AgentRun | None = None
        self.done = anyio.Event()  # set when the state is terminal
        self.lock = anyio.Lock()  # serialises pause/resume calls on `run`
        self.pause_requested = False  # this agent was paused on its own
        self.pause_applied = False  # `run` is paused right now
        self.held_state = AgentState.PENDING  # the state to go back to on resume
        self.cancel_requested = False
        self.timed_out = False
        self.result = ""  # what downstream agents get
        self._prices = prices
        self._output_file = output_file
        self._file: IO[str] | None = None
        self._tail = LineTail()
        self._on_change = on_change
        self._record: AgentRecord | None = None
        self._fields: dict[str, object] = {}

    # --- the AgentReporter protocol -------------------------------------------------------

    def progress(self, fraction: float | None, step: str) -> None:
        self._set(progress=fraction, step=step)

    def output(self, text: str) -> None:
        first = self._file is None
        if self._file is None:
            self._output_file.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._output_file.open("w", encoding="utf-8")
            self._fields["output_path"] = str(self._output_file)
        self._file.write(text)
        self._file.flush()  # readers (the output screen) see it while the agent runs
        self._tail.add(text)
        self._record = None
        self._on_change(self, first)  # the path persisted at once: a crash keeps the output

    def usage(self, tokens: Tokens, model: str | None, cost_usd: float | None = None) -> None:
        if model is None:
            known = self._get("model")
            model = known if isinstance(known, str) else None
        if cost_usd is None:
            # each increment at the model that spent it: an agent may report several models
            spent = _increase(self.tokens, tokens)
            if spent is None:  # a new running total: priced whole
                cost = self._prices.cost(model, tokens)
            else:
                cost = self.cost_usd + self._prices.cost(model, spent)
            self._set(tokens=tokens, model=model, cost_usd=cost, cost_source="pricing")
        else:
            self._set(tokens=tokens, model=model, cost_usd=cost_usd, cost_source="backend")

    def process(self, pgid: int, started: float) -> None:
        self._set(pgid=pgid, pgid_started=started)
        self._on_change(self, True)  # persisted at once: crash recovery needs it

    # --- engine side ----------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.subtask.id

    @property
    def started(self) -> bool:
        return "started_at" in self._fields

    @property
    def cost_usd(self) -> float:
        cost = self._get("cost_usd")
        return float(cost) if isinstance(cost, int | float) else 0.0

    @property
    def tokens(self) -> Tokens:
        tokens = self._get("tokens")
        return tokens if isinstance(tokens, Tokens) else Tokens()

    def set_state(self, state: AgentState) -> None:
        self.state = state
        self._changed()

    def start(self) -> None:
        self._set(started_at=utcnow())
        self.set_state(AgentState.RUNNING)

    def finish(self, state: AgentState, error: str | None = None, result: str = "") -> None:
        """The terminal state; a no-op once the agent has one."""
        if self.state.terminal:
            return
        self.result = result if len(result) <= DOWNSTREAM_CHARS else _bounded(result)
        fields: dict[str, object] = {"error": error, "output_preview": self.result[:PREVIEW_CHARS]}
        if self.started:
            ended = utcnow()
            started = self._fields["started_at"]
            assert isinstance(started, datetime)
            fields |= {"ended_at": ended, "duration_s": (ended - started).total_seconds()}
        if state is AgentState.SUCCEEDED:
            fields["progress"] = 1.0
        self._fields.update(fields)
        self.close()
        self.state = state
        self._record = None
        self.done.set()
        self._on_change(self, True)

    def conclude(self, outcome: AgentOutcome, state: AgentState, error: str | None) -> None:
        if outcome.output_path is not None and "output_path" not in self._fields:
            self._fields["output_path"] = str(outcome.output_path)
        if "cost_source" in outcome.extra:  # the backend says whose price list it used
            self._fields["cost_source"] = outcome.extra["cost_source"]
            self._fields["cost_note"] = outcome.extra.get("cost_note")
        self.finish(state, error, outcome.output)

    def upstream(self) -> Upstream:
        path = self._get("output_path")
        return Upstream(
            subtask=self.id,
            agent=self.subtask.agent,
            text=self.result,
            output_path=Path(path) if isinstance(path, str) else None,
        )

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def record(self) -> AgentRecord:
        if self._record is None:
            self._record = AgentRecord(
                subtask=self.id,
                agent=self.subtask.agent,
                prompt=self.subtask.prompt,
                state=self.state,
                output_tail=self._tail.lines(),
                **self._fields,
            )
        return self._record

    def _get(self, name: str) -> object:
        return self._fields.get(name)

    def _set(self, **fields: object) -> None:
        self._fields.update(fields)
        self._changed()

    def _changed(self) -> None:
        self._record = None
        self._on_change(self, False)


def _bounded(text: str) -> str:
    half = BoundedText(head=DOWNSTREAM_CHARS // 2, tail=DOWNSTREAM_CHARS // 2)
    half.add(text)
    return half.text()


def _increase(before: Tokens, now: Tokens) -> Tokens | None:
    """What `now` adds to `before`; None when a count went down (a new running total)."""
    added = {name: getattr(now, name) - getattr(before, name) for name in Tokens.model_fields}
    return Tokens(**added) if min(added.values()) >= 0 else None
