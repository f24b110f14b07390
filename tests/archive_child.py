"""A stand-in for a cowork-tui process, for crash-recovery tests: it records a running session
(one running command agent with a process group, one finished agent) and then either keeps
recording until it is killed (`loop`) or exits without finishing the session (`exit`).

`python -m tests.archive_child ARCHIVE SESSION_ID MODE [PGID PGID_STARTED]` — without a group,
it starts its own (`sh` with two sleeping children, its own session) and prints `ready PGID`.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from cowork_tui.core.archive.store import Archive
from cowork_tui.core.models import (
    AgentRecord,
    AgentState,
    SessionEvent,
    SessionRecord,
    SessionState,
    Tokens,
)
from cowork_tui.core.procs import process_start_time


def session(session_id: str, pgid: int, started: float, output: Path, n: int) -> SessionRecord:
    now = datetime.now(UTC)
    running = AgentRecord(
        subtask="slow", agent="sleeper", state=AgentState.RUNNING, started_at=now,
        pgid=pgid, pgid_started=started, step=f"step {n}",
    )  # fmt: skip
    done = AgentRecord(
        subtask="quick", agent="echoer", state=AgentState.SUCCEEDED, started_at=now,
        ended_at=now, duration_s=0.1, output_path=str(output), output_preview="quick result",
        tokens=Tokens(input=10, output=5),
    )  # fmt: skip
    return SessionRecord(
        id=session_id, item="sleepy", marketplace="testmarket", task="crash test task",
        state=SessionState.RUNNING, started_at=now, agents=(running, done), agent_count=2,
        summary=f"step {n}", version=n,
    )  # fmt: skip


def main(argv: list[str]) -> None:
    path, session_id, mode = Path(argv[0]), argv[1], argv[2]
    if len(argv) > 3:
        pgid, started = int(argv[3]), float(argv[4])
    else:
        group = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60 & wait"], start_new_session=True)
        pgid, started = group.pid, process_start_time(group.pid) or 0.0
    output = path.with_name(f"{session_id}.out")
    output.write_text("quick result, in full\n")
    archive = Archive(path)
    archive.record(session(session_id, pgid, started, output, 0))
    print(f"ready {pgid}", flush=True)
    n = 0
    while mode == "loop":
        n += 1
        event = SessionEvent(at=datetime.now(UTC), kind="agent", subtask="slow", state="RUNNING")
        archive.record(session(session_id, pgid, started, output, n), event)
        if n % 20 == 0:
            archive.heartbeat()


if __name__ == "__main__":
    main(sys.argv[1:])
