"""Helpers for the Claude backend tests: the scripted API's fixtures, a recording reporter,
agents and their contexts, the CLI processes left."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from cowork_tui.core.engine.backends.base import AgentContext, AgentOutcome, Upstream
from cowork_tui.core.models import AgentSpec, Item, Subtask, Tokens
from tests.fake_anthropic import FakeAnthropic


def offline_env(api: FakeAnthropic, home: Path) -> dict[str, str]:
    """The CLI's environment: the scripted API, a key, a home of its own, nothing else."""
    return {
        "ANTHROPIC_BASE_URL": api.url,
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        # anything not sent to the fake API goes to a dead loopback port
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
    }


class Reporter:
    def __init__(self) -> None:
        self.steps: list[str] = []
        self.text = ""
        self.usages: list[tuple[Tokens, str | None, float | None]] = []
        self.conversations: list[str] = []
        self.wrote = anyio.Event()  # some output has arrived
        self.writing = anyio.Event()  # the model's first words have streamed
        self.notices: list[tuple[str, str]] = []  # (state, step): a rate limit, a stall
        self.noticed = anyio.Event()

    def progress(self, fraction: float | None, step: str) -> None:
        self.steps.append(step)
        if step.startswith("writing:"):
            self.writing.set()

    def output(self, text: str) -> None:
        self.text += text
        self.wrote.set()

    def usage(self, tokens: Tokens, model: str | None, cost_usd: float | None = None) -> None:
        self.usages.append((tokens, model, cost_usd))

    def process(self, pgid: int, started: float) -> None:
        pass

    def conversation(self, conversation_id: str) -> None:
        self.conversations.append(conversation_id)

    def notice(self, state: str, step: str) -> None:
        self.notices.append((state, step))
        self.progress(None, step)
        self.noticed.set()


def spec(
    name: str,
    system_prompt: str = "",
    *,
    tools: tuple[str, ...] | None = (),
    model: str | None = "sonnet",
    max_turns: int | None = None,
    description: str = "",
) -> AgentSpec:
    return AgentSpec(
        name=name,
        description=description,
        system_prompt=system_prompt,
        tools=tools,
        model=model,
        max_turns=max_turns,
    )


def context(
    agent: AgentSpec,
    cwd: Path,
    prompt: str | None = None,
    upstream: tuple[Upstream, ...] = (),
) -> AgentContext:
    return AgentContext(
        session_id="s1",
        item=Item(name="it", marketplace="tests", agents=(agent,)),
        spec=agent,
        subtask=Subtask(id=agent.name, agent=agent.name, prompt=prompt or f"do {agent.name}"),
        task="the task at hand",
        cwd=cwd,
        upstream=upstream,
    )


async def collect(wait: Callable[[], Awaitable[AgentOutcome]], into: list[AgentOutcome]) -> None:
    into.append(await wait())


def cli_processes() -> list[int]:
    """Our child processes that are Claude Code CLIs."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == os.getpid() and fields[0] not in "ZX" and b"stream-json" in cmdline:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2] not in "ZX"
