"""A finished session as a readable Markdown report (`history show --markdown`, history export)."""

from __future__ import annotations

import re
from datetime import datetime

from ..models import AgentRecord, SessionRecord, Tokens
from ..text import duration


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def _tokens(tokens: Tokens) -> str:
    return (
        f"{tokens.total:,} (input {tokens.input:,}, output {tokens.output:,}, "
        f"cache read {tokens.cache_read:,}, cache write {tokens.cache_write:,})"
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fence(text: str) -> str:
    """A code fence longer than any backtick run inside the text."""
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text.rstrip()}\n{fence}"


def _agent_section(agent: AgentRecord) -> list[str]:
    lines = [
        f"### {agent.subtask} — {agent.agent}: {agent.state.value}",
        "",
        f"- Model: {agent.model or '—'}",
        f"- Duration: {duration(agent.duration_s)}",
        f"- Tokens: {_tokens(agent.tokens)}",
        f"- Cost: ${agent.cost_usd:.4f}",
    ]
    if agent.output_path:
        lines.append(f"- Full output: `{agent.output_path}`")
    if agent.error:
        lines += ["", "**Error:**", "", _fence(agent.error)]
    if agent.output_preview:
        lines += ["", _fence(agent.output_preview)]
    return [*lines, ""]


def session_markdown(record: SessionRecord) -> str:
    """Task, plan, per-agent results, failures, tokens and cost."""
    state = record.state.value + (" (partial)" if record.partial else "")
    lines = [
        f"# {record.item}@{record.marketplace}: {state}",
        "",
        f"**Task:** {record.task}",
        "",
        f"- Session: `{record.id}`",
        f"- Started: {_when(record.started_at)}",
        f"- Ended: {_when(record.ended_at)}",
        f"- Duration: {duration(record.duration_s)}",
        f"- Backend: {record.backend}, up to {record.max_parallel} agents at once",
        f"- Agents: {record.agent_count}",
        f"- Tokens: {_tokens(record.tokens)}",
        f"- Cost: ${record.cost_usd:.4f}",
        "",
    ]
    if record.error:
        lines += [f"**Why it ended:** {record.error}", ""]
    if record.plan:
        lines += [
            f"## Plan ({record.plan.pattern})",
            "",
            "| subtask | agent | after | prompt |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {_cell(s.id)} | {_cell(s.agent)} | {_cell(', '.join(s.after)) or '—'} | "
            f"{_cell(s.prompt)} |"
            for s in record.plan.subtasks
        ]
        lines.append("")
    if record.failed_subtasks:
        failed = ", ".join(f"`{name}`" for name in record.failed_subtasks)
        lines += ["## Failures", "", f"Failed subtasks: {failed}", ""]
        for agent in record.agents:
            if agent.subtask in record.failed_subtasks and agent.error:
                lines.append(f"- `{agent.subtask}`: {_cell(agent.error)}")
        lines.append("")
    if record.agents:
        lines += ["## Results", ""]
        for agent in record.agents:
            lines += _agent_section(agent)
    if record.summary:
        lines += ["## Summary", "", record.summary.rstrip(), ""]
    return "\n".join(lines)
