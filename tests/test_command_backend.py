"""The command backend on its own, and the bounded output helpers."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from cowork_tui.core.engine.backends.base import AgentContext, Upstream
from cowork_tui.core.engine.backends.command import CommandBackend, _DirectiveParser
from cowork_tui.core.engine.backends.output import BoundedText, LineTail
from cowork_tui.core.models import Subtask, Tokens
from cowork_tui.core.procs import group_members, is_same_process
from tests.engine_support import command, gone, item_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Reporter:
    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.steps: list[tuple[float | None, str]] = []
        self.usages: list[tuple[Tokens, str | None]] = []
        self.groups: list[tuple[int, float]] = []
        self.first_output = anyio.Event()

    def progress(self, fraction: float | None, step: str) -> None:
        self.steps.append((fraction, step))

    def output(self, text: str) -> None:
        self.chunks.append(text)
        self.first_output.set()

    def usage(self, tokens: Tokens, model: str | None, cost_usd: float | None = None) -> None:
        self.usages.append((tokens, model))

    def process(self, pgid: int, started: float) -> None:
        self.groups.append((pgid, started))

    def conversation(self, conversation_id: str) -> None:
        raise AssertionError("command agents have no conversation")

    def notice(self, state: str, step: str) -> None:
        raise AssertionError("command agents report no rate limit nor stall")


def context(
    script: str, upstream: tuple[Upstream, ...] = (), cwd: Path = Path(".")
) -> AgentContext:
    spec = command("a", script)
    return AgentContext(
        session_id="s1",
        item=item_of(spec),
        spec=spec,
        subtask=Subtask(id="x", agent="a", prompt="the subtask"),
        task="the task",
        cwd=cwd,
        upstream=upstream,
        grace_seconds=0.3,
    )


async def test_stdin_streams_upstream_files_and_texts(tmp_path: Path) -> None:
    saved = tmp_path / "up.txt"
    saved.write_text("from the file\n")
    upstream = (
        Upstream("u1", "a", text="(bounded)", output_path=saved),
        Upstream("u2", "a", text="from memory\n"),
    )
    reporter = Reporter()
    run = await CommandBackend().start(context("cat", upstream), reporter)
    (group,) = reporter.groups  # reported at once, while `cat` waits for its input
    assert is_same_process(*group)
    outcome = await run.wait()
    assert outcome.ok and outcome.output == "from the file\nfrom memory\n"


async def test_child_that_never_reads_stdin_does_not_block() -> None:
    big = Upstream("u", "a", text="x" * 1_000_000)
    run = await CommandBackend().start(context("echo ignored", (big,)), Reporter())
    outcome = await run.wait()
    assert outcome.ok and outcome.output == "ignored\n"


async def test_failure_keeps_the_stderr_tail() -> None:
    script = "for i in $(seq 1000); do echo line$i >&2; done; exit 7"
    outcome = await (await CommandBackend().start(context(script), Reporter())).wait()
    assert not outcome.ok and outcome.error is not None
    assert outcome.error.startswith("exit code 7: ") and outcome.error.endswith("line1000")
    assert len(outcome.error) < 2100


async def test_stop_ends_the_group_even_when_sigterm_is_ignored() -> None:
    reporter = Reporter()
    run = await CommandBackend().start(context("trap '' TERM; sleep 30 & echo $!; wait"), reporter)
    async with anyio.create_task_group() as tg:
        outcome_box: list[object] = []

        async def waiter() -> None:
            outcome_box.append(await run.wait())

        tg.start_soon(waiter)
        await reporter.first_output.wait()
        await run.stop()
        await run.stop()  # idempotent
    pgid = reporter.groups[0][0]
    assert not group_members(pgid) and gone(int(reporter.chunks[0]))
    assert outcome_box[0].ok is False and outcome_box[0].error == "stopped"  # type: ignore[attr-defined]


async def test_pid_reuse_guard() -> None:
    reporter = Reporter()
    run = await CommandBackend().start(context("sleep 5"), reporter)
    pgid, started = reporter.groups[0]
    assert is_same_process(pgid, started) and not is_same_process(pgid, started + 100)
    await run.stop()


def test_directives_split_across_chunks() -> None:
    reporter = Reporter()
    parser = _DirectiveParser(reporter)
    chunks = [
        "before\n::pro",
        "gress 0.25 step one\nmid",
        "dle ::usage 1 2 m\n:",
        ":usage 3 4 opus\n",
    ]
    out = "".join(piece for chunk in chunks for piece in parser.feed(chunk))
    assert out == "before\nmiddle ::usage 1 2 m\n"  # "::" inside a line is output
    assert reporter.steps == [(0.25, "step one")]
    assert reporter.usages == [(Tokens(input=3, output=4), "opus")]


def test_usage_lines_add_up_and_bad_ones_are_dropped() -> None:
    reporter = Reporter()
    parser = _DirectiveParser(reporter)
    out = parser.feed("::usage 10 5 sonnet\n::usage x y\n::usage 1 1\n::progress soon\n")
    assert out == [] and reporter.steps == [(None, "soon")]
    assert reporter.usages == [
        (Tokens(input=10, output=5), "sonnet"),
        (Tokens(input=11, output=6), None),
    ]


def test_a_long_line_starting_with_colons_streams_through() -> None:
    parser = _DirectiveParser(Reporter())
    out = parser.feed("::" + "x" * 10_000)
    assert "".join(out) == "::" + "x" * 10_000


def test_bounded_text_keeps_head_and_tail() -> None:
    text = BoundedText(head=5, tail=5)
    for piece in ("abc", "defghij", "klmnopqrstuvwxyz"):
        text.add(piece)
    assert text.text() == "abcde\n[… 16 characters omitted …]\nvwxyz"
    small = BoundedText(head=5, tail=5)
    small.add("abcdefg")
    assert small.text() == "abcdefg"


def test_line_tail_keeps_last_lines_cut_to_width() -> None:
    tail = LineTail(lines=3, width=4)
    tail.add("one\ntwo\nthr")
    tail.add("ee-long\nfour\nfive\nsix\nseven-long")
    assert tail.lines() == ("four", "five", "six", "seve")
    tail.add("x" * 100)
    assert tail.lines()[-1] == "seve"
