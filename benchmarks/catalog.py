"""Catalog loading against marketplace size: it must grow linearly with the entries.

Generates, in a temporary folder, marketplaces of N local plugins (an agent and a skill each)
and of N remote entries (github sources), then times, per size (the best of --runs runs):
- load: `load_marketplace` of the folder, in process;
- add: `Catalog.add_marketplace` in process (local), `cowork-tui marketplace add` (remote), on
  a fresh home each run;
- list, list --json: `cowork-tui marketplace list` end to end, in a fresh interpreter.
CLI figures also give their CPU time (user + system): on a busy machine the wall-clock time
waits for the CPU too. The baseline, measured in the same run, is `json.loads` of the same
marketplace.json; each figure is given per entry (a CLI figure less the same command's start with
no marketplace) and against it, and the large size's per-entry time against the small size's
(1.0 is linear, 10.0 quadratic over a 10x step).
Goals (issue 15): 10,000 local plugins list in under 2 s; 200,000 remote entries add in under
30 s.
Run: python benchmarks/catalog.py [--local 1000,10000] [--remote 20000,200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cowork_tui.core.marketplace.catalog import Catalog  # noqa: E402
from cowork_tui.core.marketplace.loader import MARKETPLACE_FILE, load_marketplace  # noqa: E402
from cowork_tui.core.paths import Paths  # noqa: E402

LIST_GOAL = (10_000, 2.0)  # local plugins, seconds
ADD_GOAL = (200_000, 30.0)  # remote entries, seconds


def local_marketplace(folder: Path, count: int) -> Path:
    entries = []
    for n in range(count):
        plugin = folder / "plugins" / f"p{n}"
        (plugin / "agents").mkdir(parents=True)
        (plugin / "skills" / f"s{n}").mkdir(parents=True)
        (plugin / "agents" / f"a{n}.md").write_text(
            f"---\nname: a{n}\ndescription: agent {n}\ntools: Read, Grep\n---\nYou are {n}.\n"
        )
        (plugin / "skills" / f"s{n}" / "SKILL.md").write_text(
            f"---\nname: s{n}\ndescription: skill {n}\n---\nDo {n}.\n"
        )
        entries.append({"name": f"p{n}", "description": f"plugin {n}", "source": f"./plugins/p{n}"})
    return _manifest(folder, f"local{count}", entries)


def remote_marketplace(folder: Path, count: int) -> Path:
    entries = [
        {
            "name": f"r{n}",
            "description": f"remote plugin {n}",
            "source": {"source": "github", "repo": f"owner/repo{n}"},
        }
        for n in range(count)
    ]
    return _manifest(folder, f"remote{count}", entries)


def _manifest(folder: Path, name: str, entries: Sequence[Mapping[str, object]]) -> Path:
    (folder / MARKETPLACE_FILE).parent.mkdir(parents=True, exist_ok=True)
    manifest = {"name": name, "owner": {"name": "bench"}, "plugins": entries}
    (folder / MARKETPLACE_FILE).write_text(json.dumps(manifest))
    return folder


Figure = tuple[float, float | None]  # seconds (the best run), CPU seconds of a CLI command


def best(runs: int, action: Callable[[], object]) -> float:
    """The shortest of `runs` timings of `action`: the longer ones are the machine's noise."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return min(times)


def cli(runs: int, home: Callable[[], Path], *args: str) -> Figure:
    """`cowork-tui ARGS` in a fresh interpreter, everything under `home()` (called per run):
    the best run's wall-clock seconds and its CPU seconds (user + system)."""
    figures = []
    for _ in range(runs):
        folder = home()
        env = os.environ | {"COWORK_TUI_HOME": str(folder), "HOME": str(folder)}
        cpu = _children_cpu()
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "cowork_tui", *args], env=env, capture_output=True, text=True
        )
        figures.append((time.perf_counter() - began, _children_cpu() - cpu))
        if done.returncode != 0:
            sys.exit(f"cowork-tui {' '.join(args)}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return min(figures)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def baseline(runs: int, market: Path) -> float:
    """What the figures are set against: `json.loads` of the same marketplace.json."""
    text = (market / MARKETPLACE_FILE).read_text()
    return best(runs, lambda: json.loads(text))


def fresh_homes(work: Path, name: str) -> Callable[[], Path]:
    """A new, empty home on each call (a marketplace is added once per home)."""
    made = itertools.count()
    return lambda: work / f"{name}-{next(made)}"


def add_to(home: Path, market: Path) -> None:
    Catalog(Paths(home / "config", home / "data", isolated=True), claude=False).add_marketplace(
        market
    )


def measure_local(work: Path, count: int, runs: int) -> tuple[float, dict[str, Figure]]:
    market = local_marketplace(work / f"local{count}", count)
    homes = fresh_homes(work, f"home-local{count}")
    home = homes()
    add_to(home, market)
    figures: dict[str, Figure] = {
        "load": (best(runs, lambda: load_marketplace(market)), None),
        "add": (best(runs, lambda: add_to(homes(), market)), None),
        "list": cli(runs, lambda: home, "marketplace", "list"),
        "list --json": cli(runs, lambda: home, "marketplace", "list", "--json"),
    }
    return baseline(runs, market), figures


def measure_remote(work: Path, count: int, runs: int) -> tuple[float, dict[str, Figure]]:
    market = remote_marketplace(work / f"remote{count}", count)
    homes = fresh_homes(work, f"home-remote{count}")
    figures: dict[str, Figure] = {
        "load": (best(runs, lambda: load_marketplace(market)), None),
        "add": cli(runs, homes, "marketplace", "add", str(market)),
    }
    home = homes()
    cli(1, lambda: home, "marketplace", "add", str(market))
    figures["list"] = cli(runs, lambda: home, "marketplace", "list")
    return baseline(runs, market), figures


def report(kind: str, results: dict[int, tuple[float, dict[str, Figure]]], start: float) -> None:
    """Per entry, a CLI figure leaves out `start` (the same command with no marketplace)."""

    def per_entry(figure: Figure, count: int) -> float:
        seconds, cpu = figure
        return (seconds - (start if cpu is not None else 0.0)) / count

    sizes = sorted(results)
    for count in sizes:
        parse, figures = results[count]
        print(f"{kind} {count:>7}: baseline (json.loads of its manifest) {parse * 1000:.1f} ms")
        for name, (seconds, cpu) in figures.items():
            used = f" (CPU {cpu:6.2f} s)" if cpu is not None else " " * 15
            print(
                f"  {name:12} {seconds:7.3f} s{used} "
                f"{per_entry((seconds, cpu), count) * 1e6:7.1f} µs/entry "
                f"{seconds / parse:7.0f}x baseline"
            )
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        growth = "  ".join(
            f"{name} {per_entry(results[large][1][name], large) / per_entry(figure, small):.2f}"
            for name, figure in results[small][1].items()
        )
        print(f"{kind} per-entry time at {large} / at {small} (1.0 = linear): {growth}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--local", default="1000,10000", help="local plugin counts")
    parser.add_argument("--remote", default="20000,200000", help="remote entry counts")
    parser.add_argument("--runs", type=int, default=3, help="runs of each figure (the best kept)")
    args = parser.parse_args()
    local_sizes = [int(n) for n in args.local.split(",") if n]
    remote_sizes = [int(n) for n in args.remote.split(",") if n]
    with tempfile.TemporaryDirectory() as work:
        start = cli(args.runs, fresh_homes(Path(work), "home-empty"), "marketplace", "list")[0]
        local = {n: measure_local(Path(work), n, args.runs) for n in local_sizes}
        remote = {n: measure_remote(Path(work), n, args.runs) for n in remote_sizes}
    print(f"start: `cowork-tui marketplace list` with no marketplace added: {start:.3f} s")
    report("local plugins", local, start)
    report("remote entries", remote, start)
    for (count, goal), results, figure, what in (
        (LIST_GOAL, local, "list", "local plugins: marketplace list"),
        (ADD_GOAL, remote, "add", "remote entries: marketplace add"),
    ):
        if count in results:
            seconds = results[count][1][figure][0]
            verdict = "holds" if seconds < goal else "FAILS"
            print(f"goal: {count} {what} in under {goal:.0f} s: {seconds:.2f} s, {verdict}")


if __name__ == "__main__":
    main()
