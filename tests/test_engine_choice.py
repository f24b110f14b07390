"""Choosing the engine (DESIGN §8): config.toml, the flags over it, `cowork-tui worker`, and one
clear error, exit 2, without the [temporal] extra or without a server at the address; a session
run through the CLI on a real dev server's worker."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cowork_tui.cli import build_parser
from cowork_tui.cli.arguments import with_engine_options
from cowork_tui.core.config import load_settings
from cowork_tui.core.paths import Paths
from cowork_tui.core.workspace import Workspace

from .marketplaces import cli
from .temporal_support import DevServer, WorkerProcess, dev_server  # noqa: F401 (a fixture)

ROOT = Path(__file__).parents[1]  # the cowork_tui under test
EXTRA = "needs the [temporal] extra, which is not installed: pip install 'cowork-tui[temporal]'"
CONFIG = "engine = 'temporal'\n[temporal]\naddress = '10.0.0.1:7233'\nnamespace = 'team'\n"
# the command line in an interpreter where temporalio cannot be imported
WITHOUT_TEMPORAL = (
    "import sys; sys.modules['temporalio'] = None\n"
    "from cowork_tui.cli import main\n"
    "raise SystemExit(main(sys.argv[1:]))"
)
COMMAND = "from cowork_tui.cli import entry_point; entry_point()"  # what `cowork-tui` runs
# `worker` with a stand-in for the Temporal worker: it serves until cancelled, or finds no server
FAKE_WORKER = """\
import sys, anyio
import cowork_tui.core.engine.temporal.worker as worker
from cowork_tui.cli import main
from cowork_tui.core.errors import InputError

async def no_server(address):
    raise InputError(f"no Temporal server at {address}")

async def run_worker(workspace, settings):
    if settings.address == "127.0.0.1:1":  # raised in a task group of its own
        async with anyio.create_task_group() as tg:
            tg.start_soon(no_server, settings.address)
    print("serving", settings.address, settings.namespace, settings.task_queue, flush=True)
    try:
        await anyio.sleep_forever()
    finally:
        print("stopped", flush=True)

worker.run_worker = run_worker
raise SystemExit(main(["worker", *sys.argv[1:]]))
"""


def home_with(tmp_path: Path, config: str) -> Path:
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(config)
    return home


def python(home: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=120,
        env=os.environ | {"COWORK_TUI_HOME": str(home), "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def chosen(tmp_path: Path, config: str, argv: list[str]) -> tuple[str, str, str, str]:
    """The engine and the [temporal] settings the command line `argv` ends with."""
    paths = Paths(config_dir=tmp_path, data_dir=tmp_path)
    paths.config_file.write_text(config)
    workspace = Workspace(paths, load_settings(paths))
    settings = with_engine_options(workspace, build_parser().parse_args(argv)).settings
    temporal = settings.temporal
    return settings.engine, temporal.address, temporal.namespace, temporal.task_queue


@pytest.fixture
def required(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each time the [temporal] extra is asked for (none is needed here: nothing runs)."""
    calls: list[bool] = []
    monkeypatch.setattr("cowork_tui.cli.arguments.require_temporal", lambda: calls.append(True))
    return calls


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "i", "t"], ("temporal", "10.0.0.1:7233", "team", "cowork-tui")),
        (["run", "i", "t", "--engine", "local"], ("local", "10.0.0.1:7233", "team", "cowork-tui")),
        (
            ["launch", "i", "t", "--temporal-address", "h:1"],
            ("temporal", "h:1", "team", "cowork-tui"),
        ),
        (
            ["resume", "ID", "--engine", "local", "--temporal-address", "h:1"],
            ("local", "h:1", "team", "cowork-tui"),
        ),
        (["plan", "i", "t", "--engine", "local"], ("local", "10.0.0.1:7233", "team", "cowork-tui")),
        (["--engine", "local"], ("local", "10.0.0.1:7233", "team", "cowork-tui")),  # the TUI
        (["--engine", "local", "run", "i", "t"], ("local", "10.0.0.1:7233", "team", "cowork-tui")),
        (
            ["worker", "--temporal-address", "h:1", "--namespace", "ns", "--task-queue", "q"],
            ("temporal", "h:1", "ns", "q"),
        ),
    ],
)
def test_flags_win_over_the_config(
    tmp_path: Path, required: list[bool], argv: list[str], expected: tuple[str, ...]
) -> None:
    assert chosen(tmp_path, CONFIG, argv) == expected
    assert required == [True] * (expected[0] == "temporal")


def test_the_defaults_and_an_address_alone_choose_the_local_engine(
    tmp_path: Path, required: list[bool]
) -> None:
    default = ("local", "127.0.0.1:7233", "default", "cowork-tui")
    assert chosen(tmp_path, "", ["run", "i", "t"]) == default
    addressed = chosen(tmp_path, "", ["run", "i", "t", "--temporal-address", "[::1]:7233"])
    assert addressed == ("local", "[::1]:7233", "default", "cowork-tui")
    assert chosen(tmp_path, "", ["--engine", "temporal"])[0] == "temporal"
    assert required == [True]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "repo-health", "t", "--temporal-address", "7233"], "argument --temporal-address"),
        (["run", "repo-health", "t", "--engine", "remote"], "argument --engine: invalid choice"),
        (["--temporal-address", "h:0"], "argument --temporal-address: must be HOST:PORT"),
        (["worker", "--task-queue", " "], "argument --task-queue: must not be empty"),
    ],
)
def test_bad_flags_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = cli(tmp_path / "home", *args)
    assert done.returncode == 2 and message in done.stderr


@pytest.mark.parametrize("command", [["run", "repo-health", "t"], ["worker"]])
def test_a_bad_temporal_config_names_its_file_and_field(tmp_path: Path, command: list[str]) -> None:
    done = cli(home_with(tmp_path, "[temporal]\naddress = 'nowhere'\n"), *command)
    assert done.returncode == 2, done.stderr
    assert "config.toml: temporal.address: must be host:port" in done.stderr


@pytest.mark.parametrize(
    ("config", "args"),
    [
        ("", ["run", "repo-health", "check", "--engine", "temporal"]),
        ("engine = 'temporal'\n", ["run", "repo-health", "check"]),
        ("", ["resume", "nosuchid", "--engine", "temporal"]),
        ("", ["--engine", "temporal"]),  # the TUI: refused before it takes the terminal
        ("", ["worker"]),
    ],
)
def test_without_the_extra_the_temporal_engine_says_what_to_install(
    tmp_path: Path, config: str, args: list[str]
) -> None:
    home = home_with(tmp_path, config)
    done = python(home, WITHOUT_TEMPORAL, *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"cowork-tui: the Temporal engine {EXTRA}\n"
    assert cli(home, "history", "list").stdout == "no sessions yet\n"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: a connection to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    "command", [["run", "repo-health", "check", "--engine", "temporal"], ["worker"]]
)
def test_without_a_server_one_line_names_the_address(
    tmp_path: Path, closed_port: int, command: list[str]
) -> None:
    address = f"127.0.0.1:{closed_port}"
    done = python(home_with(tmp_path, ""), COMMAND, *command, "--temporal-address", address)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and address in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_stops_the_worker_gracefully(tmp_path: Path, signum: signal.Signals) -> None:
    home = home_with(tmp_path, CONFIG)
    worker = subprocess.Popen(
        [sys.executable, "-c", FAKE_WORKER, "--namespace", "ns", "--task-queue", "q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | {"COWORK_TUI_HOME": str(home), "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline() == "serving 10.0.0.1:7233 ns q\n"
        worker.send_signal(signum)
        out, err = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 0, err
    assert out == "stopped\n"
    assert not (home / "data").exists()  # a worker never opens the archive


def test_a_workers_input_error_is_one_line_exit_2(tmp_path: Path) -> None:
    done = python(home_with(tmp_path, ""), FAKE_WORKER, "--temporal-address", "127.0.0.1:1")
    assert done.returncode == 2
    assert done.stderr == "cowork-tui: no Temporal server at 127.0.0.1:1\n"


def test_run_goes_to_the_workers_and_a_worker_stops_gracefully(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server: DevServer = request.getfixturevalue("dev_server")
    worker = WorkerProcess(server.settings(), tmp_path / "worker")
    try:
        config = f"engine = 'temporal'\n[temporal]\naddress = '{server.address}'\n"
        args = ["run", "repo-health", "check", "--json", "--cwd", str(tmp_path)]
        done = python(home_with(tmp_path, config), COMMAND, *args)
        assert done.returncode == 0, done.stderr
        record = json.loads(done.stdout)
        assert record["state"] == "COMPLETED" and record["engine"] == "temporal"
        assert worker.stop() == 0  # SIGTERM
    finally:
        if worker.process.poll() is None:
            worker.kill()
