"""History at scale: build an archive of N realistic sessions, time what the history shows.

    python benchmarks/history.py --sessions 10000 [--path DIR] [--runs 15]

Sessions go in through `Archive.record` (the engine's write path), each with 3-5 agents and
1-4 kB of output per agent in files, words drawn from a Zipf-distributed vocabulary, spread
over three years. Measured (medians over --runs):
  list_ms    the first history page (50 newest sessions)
  search_ms  a full-text search page (median over common, rare, two-word and prefix queries);
             search_max_ms is the slowest of those queries
  open_ms    opening the history screen in the real app, headless: key `3` → the first frame
             showing its rows; open_settled_ms → the last frame of the opening (footer keys in);
             query_ms is the query behind it (archive opened, first page, the selected session's
             record and event log)
  baseline   the same searches as a naive LIKE scan over task, summary and output previews
             (which does not even read the outputs), measured in the same run → ratio
--path keeps the archive (and its outputs) in DIR and reuses it when it already holds N sessions.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import anyio
from rich.console import RenderableType
from textual.screen import Screen
from textual.widgets import DataTable

from cowork_tui.core.archive.store import Archive
from cowork_tui.core.models import (
    AgentRecord,
    AgentState,
    Plan,
    SessionEvent,
    SessionRecord,
    SessionState,
    Subtask,
    Tokens,
)
from cowork_tui.core.paths import Paths
from cowork_tui.core.workspace import Workspace
from cowork_tui.ui.app import CoworkApp

VOCABULARY = 20_000
PARAGRAPHS = 4_000
START = datetime(2023, 1, 1, tzinfo=UTC)
STATES = [SessionState.COMPLETED] * 8 + [SessionState.FAILED, SessionState.CANCELLED]


def make_words(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ten", "ra", "vo", "shi", "pu", "der", "an", "el", "qui", "zo"]
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choices(syllables, k=rng.randint(2, 4))))
    ranked = sorted(words)  # (set order varies between runs)
    rng.shuffle(ranked)
    return ranked


class Corpus:
    """Zipf-distributed text: paragraphs from a pool, plus words picked per session."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.words = make_words(rng)
        weights = [1 / (rank + 1) for rank in range(VOCABULARY)]
        self.cumulative = list(_accumulate(weights))
        self.paragraphs = [self.text(rng.randint(60, 110)) for _ in range(PARAGRAPHS)]

    def text(self, count: int) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.cumulative, k=count))

    def output(self) -> str:
        size = self.rng.randint(1024, 4096)
        parts = [self.text(12)]
        while sum(map(len, parts)) < size:
            parts.append(self.rng.choice(self.paragraphs))
        return "\n\n".join(parts)


def _accumulate(values: list[float]) -> list[float]:
    total, out = 0.0, []
    for value in values:
        total += value
        out.append(total)
    return out


def make_session(corpus: Corpus, index: int, total: int, outputs: Path) -> SessionRecord:
    rng = corpus.rng
    started = START + timedelta(days=3 * 365 * index / total)
    state = rng.choice(STATES)
    agents = []
    for n in range(rng.randint(3, 5)):
        text = corpus.output()
        path = outputs / f"s{index:07d}-{n}.txt"
        path.write_text(text)
        tokens = Tokens(input=rng.randint(500, 9000), output=rng.randint(200, 3000))
        failed = state is SessionState.FAILED and n == 0
        agents.append(
            AgentRecord(
                subtask=f"part-{n}",
                agent=f"agent-{n}",
                prompt=corpus.text(15),
                state=AgentState.FAILED if failed else AgentState.SUCCEEDED,
                model="claude-sonnet-4",
                started_at=started,
                ended_at=started + timedelta(seconds=40),
                duration_s=40.0,
                tokens=tokens,
                cost_usd=tokens.total * 3e-6,
                cost_source="pricing",
                output_preview=text[:400],
                output_path=str(path),
                error="exit code 1" if failed else None,
            )
        )
    plan = Plan(
        pattern="parallel",
        subtasks=tuple(Subtask(id=a.subtask, agent=a.agent, prompt=a.prompt) for a in agents),
    )
    total_tokens = sum((a.tokens for a in agents), Tokens())
    return SessionRecord(
        id=f"{started:%Y%m%d-%H%M%S}-{index:07d}", item=f"item-{rng.randint(0, 40)}",
        marketplace="bench", task=corpus.text(rng.randint(6, 20)), state=state,
        backend="claude", started_at=started, ended_at=started + timedelta(seconds=60),
        duration_s=60.0, plan=plan, agents=tuple(agents), tokens=total_tokens,
        cost_usd=sum(a.cost_usd for a in agents), agent_count=len(agents),
        summary=corpus.text(40), version=len(agents) * 3,
    )  # fmt: skip


def build(path: Path, sessions: int, rng: random.Random) -> tuple[Corpus, float]:
    corpus = Corpus(rng)
    archive = Archive(path)
    have = len(archive.list_sessions(limit=sessions))
    if have >= sessions:
        archive.close()
        return corpus, 0.0
    outputs = path.parent / "outputs"
    outputs.mkdir(exist_ok=True)
    began = time.perf_counter()
    for index in range(have, sessions):
        record = make_session(corpus, index, sessions, outputs)
        archive.record(record, SessionEvent(at=record.ended_at or START, kind="session",
                                            state=record.state.value))  # fmt: skip
        if index % 10_000 == 9_999:
            print(f"  built {index + 1} sessions ({time.perf_counter() - began:.0f}s)", flush=True)
    archive.close()
    return corpus, time.perf_counter() - began


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm-up
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


async def screen_open_ms(folder: Path) -> tuple[float, float]:
    """Press `3` in a fresh, settled app on this archive: milliseconds to the first frame that
    shows the history rows, and to the last frame of the opening (footer and all settled)."""
    app = CoworkApp(Workspace(Paths(config_dir=folder / "config", data_dir=folder)))
    frames: list[tuple[float, bool]] = []
    display = app._display  # every frame the compositor renders passes here (headless too)

    def timed_display(screen: Screen[object], update: RenderableType | None) -> None:
        if update is not None:
            tables = screen.query("#history")
            shown = bool(tables) and tables.first(DataTable).virtual_size.height > 1
            frames.append((time.perf_counter(), shown))
        display(screen, update)

    app._display = timed_display  # type: ignore[method-assign,assignment]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        frames.clear()
        began = time.perf_counter()
        await pilot.press("3")
        await pilot.pause(0.5)
    rows_shown = next(moment for moment, shown in frames if shown)
    return (rows_shown - began) * 1000, (frames[-1][0] - began) * 1000


def naive_search(path: Path, word: str) -> list[str]:
    conn = sqlite3.connect(path)
    pattern = f"%{word}%"
    rows = conn.execute(
        "SELECT s.id FROM sessions s WHERE s.task LIKE ?1 OR s.summary LIKE ?1 OR EXISTS "
        "(SELECT 1 FROM agents a WHERE a.session_seq = s.seq AND a.output_preview LIKE ?1) "
        "ORDER BY s.seq DESC LIMIT 50",
        (pattern,),
    ).fetchall()
    conn.close()
    return [row[0] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--path", type=Path, help="keep the archive in this folder")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    folder = args.path or Path(tempfile.mkdtemp(prefix="cowork-history-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "archive.sqlite3"
    corpus, build_s = build(path, args.sessions, random.Random(42))
    if build_s:
        print(f"built {args.sessions} sessions in {build_s:.1f}s ({folder})")

    words = corpus.words
    queries = [
        words[10],  # common: on most sessions
        words[300],
        max(words[15_000:15_100], key=len),  # rare: a few sessions
        f"{words[50]} {words[900]}",
        f"{words[2_000]} {words[3_000]}",  # two uncommon words together: scans both lists
        words[200][:4],  # a prefix, as typed
    ]
    archive = Archive(path)
    list_ms = median_ms(lambda: archive.list_sessions(limit=50), args.runs)
    per_query = {q: median_ms(partial(archive.list_sessions, search=q), args.runs) for q in queries}
    naive_runs = max(3, args.runs // 5)
    baseline = {q: median_ms(partial(naive_search, path, q), naive_runs) for q in queries[:3]}

    def open_query() -> None:
        screen = Archive(path)
        page = screen.list_sessions(limit=50)
        screen.get(page[0].id)
        screen.events(page[0].id)
        screen.close()

    query_ms = median_ms(open_query, args.runs)
    opens = [anyio.run(screen_open_ms, folder) for _ in range(max(3, args.runs // 3))]
    open_ms = statistics.median(rows for rows, _ in opens)
    settled_ms = statistics.median(settled for _, settled in opens)
    for query, ms in per_query.items():
        hits = len(archive.list_sessions(search=query))
        print(f"  search {query!r:<28} {ms:7.2f} ms  ({hits} on the first page)")
    for query, ms in baseline.items():
        print(f"  naive LIKE {query!r:<24} {ms:7.2f} ms")
    search_ms = statistics.median(per_query.values())
    baseline_ms = statistics.median(baseline.values())
    fts_same = statistics.median(per_query[q] for q in baseline)
    size_mb = sum(p.stat().st_size for p in folder.glob("archive.sqlite3*")) / 1e6
    print(
        f"sessions={args.sessions} list_ms={list_ms:.2f} search_ms={search_ms:.2f} "
        f"search_max_ms={max(per_query.values()):.2f} "
        f"open_ms={open_ms:.2f} open_settled_ms={settled_ms:.2f} query_ms={query_ms:.2f} "
        f"baseline_like_ms={baseline_ms:.2f} search_speedup={baseline_ms / fts_same:.1f} "
        f"archive_mb={size_mb:.0f} build_s={build_s:.1f}"
    )


if __name__ == "__main__":
    main()
