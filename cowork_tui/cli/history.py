"""`history list` and `history show`: finished (and running) sessions from the archive."""

from __future__ import annotations

import argparse
import json

from ..core.archive.queries import SessionSummary
from ..core.archive.report import session_markdown
from ..core.models import SessionEvent
from ..core.text import one_line, printable
from ..core.workspace import Workspace
from .arguments import whole_number
from .run import describe_result


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    history = subparsers.add_parser("history", help="past sessions: list, search, show, export")
    commands = history.add_subparsers(title="history commands", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="sessions, newest first")
    listing.add_argument("--search", metavar="TEXT", help="words in the task, summary or outputs")
    listing.add_argument(
        "--limit", type=whole_number("--limit", 1), default=20, metavar="N", help="default 20"
    )
    listing.add_argument("--json", action="store_true", help="a JSON list of session summaries")
    listing.set_defaults(handler=cmd_list)

    show = commands.add_parser("show", help="one session in full")
    show.add_argument("id", metavar="ID", help="a session id, or the start of one")
    form = show.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="the JSON session record")
    form.add_argument("--markdown", action="store_true", help="a Markdown report")
    show.set_defaults(handler=cmd_show)


def cmd_list(args: argparse.Namespace) -> int:
    sessions = Workspace.open(need_archive=True, read_only=True).archive.list_sessions(
        search=args.search, limit=args.limit
    )
    if args.json:
        print(json.dumps([s.model_dump(mode="json") for s in sessions], indent=2))
    elif sessions:
        print(describe_sessions(sessions))
    else:
        print("no sessions match" if args.search else "no sessions yet")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    archive = Workspace.open(need_archive=True, read_only=True).archive
    record = archive.get(args.id)
    if args.json:
        print(json.dumps(record.to_json(), indent=2))
    elif args.markdown:
        print(printable(session_markdown(record)))
    else:
        print(describe_result(record))
        print(printable(describe_events(archive.events(record.id))))
    return 0


def describe_sessions(sessions: list[SessionSummary]) -> str:
    rows = [("ID", "STARTED", "ITEM", "STATE", "TIME", "COST", "TASK")]
    for s in sessions:
        started = s.started_at.strftime("%Y-%m-%d %H:%M") if s.started_at else "—"
        state = s.state.value + ("*" if s.partial else "") + (" simulated" if s.simulated else "")
        duration = f"{s.duration_s:.0f}s" if s.duration_s is not None else "—"
        task = one_line(s.task, 60)
        rows.append((s.id, started, s.item, state, duration, f"${s.cost_usd:.4f}", task))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    if any(s.partial for s in sessions):
        lines.append("* completed with failed agents")
    return "\n".join(line.rstrip() for line in lines)


def describe_events(events: list[SessionEvent]) -> str:
    lines = ["", "events:"]
    for event in events:
        what = " ".join(x for x in (event.kind, event.subtask, event.state) if x)
        why = f" ({event.reason})" if event.reason else ""
        lines.append(f"  {event.at.strftime('%H:%M:%S')}  {what}{why}")
    return "\n".join(lines)
