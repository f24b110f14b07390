"""A scripted Messages API on 127.0.0.1, for running the real Claude Code CLI offline.

Every request is recorded. `POST /v1/messages` calls that belong to an agent's conversation
(the ones carrying its system prompt marker) are answered from a script, in order; any other
call the CLI makes on its own (titles, quota checks, token counting) gets a small canned
answer, so tests can tell the two apart and assert on what each agent actually sent.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Usage:
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0


@dataclass
class Reply:
    """One scripted answer: a streamed text (and optional tool call), or an HTTP error."""

    text: str = ""
    usage: Usage = Usage()
    tool: tuple[str, dict[str, Any]] | None = None  # (tool name, input): a tool_use block
    status: int = 200
    error_type: str = "api_error"
    error_message: str = ""
    hold: threading.Event | None = None  # stream the first word, then wait for this
    held: threading.Event = field(default_factory=threading.Event)  # set once holding
    tool_id: str = "toolu_fake1"
    cut_after: int | None = None  # close the connection after this many text deltas
    stall: threading.Event | None = None  # answer nothing (no headers) until this is set
    retry_after: str = "0"  # a 429's retry-after header


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def text(self) -> str:
        """Everything the request carries, flattened (system prompt, messages, tools)."""
        return json.dumps(self.body)

    def system_text(self) -> str:
        system = self.body.get("system", "")
        if isinstance(system, str):
            return system
        return "\n".join(block.get("text", "") for block in system)


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class FakeAnthropic:
    """`with FakeAnthropic() as api:` … `api.url` for ANTHROPIC_BASE_URL, `api.requests` after."""

    def __init__(self, model: str = "claude-sonnet-4-5-20250929") -> None:
        self.model = model
        self.requests: list[Request] = []
        self._scripts: list[tuple[Callable[[Request], bool], list[Reply]]] = []
        self._holds: list[threading.Event] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, marker: str, *replies: Reply) -> None:
        """Answer, in order, the conversation requests whose system prompt holds `marker`."""
        with self._lock:
            self._scripts.append((lambda r: marker in r.system_text(), list(replies)))
            self._holds += [e for r in replies for e in (r.hold, r.stall) if e is not None]

    def conversation(self, marker: str) -> list[Request]:
        """The scripted requests of one agent, in order."""
        return [r for r in self.requests if _is_turn(r) and marker in r.system_text()]

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for hold in self._holds:  # free any handler still holding a stream open
            hold.set()
        self._server.shutdown()
        self._server.server_close()

    def _reply_for(self, request: Request) -> Reply | None:
        with self._lock:
            self.requests.append(request)
            if not _is_turn(request):
                return None
            for matches, replies in self._scripts:
                if matches(request) and replies:
                    return replies.pop(0) if len(replies) > 1 else replies[0]
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                self._json(200, {})

            def do_GET(self) -> None:
                self._json(200, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                request = Request(self.path, dict(self.headers.items()), body)
                reply = api._reply_for(request)
                if reply is not None and reply.stall is not None:
                    reply.held.set()
                    reply.stall.wait(120)
                    self.close_connection = True
                elif "count_tokens" in self.path:
                    self._json(200, {"input_tokens": len(raw) // 4})
                elif reply is None:
                    self._answer(request, Reply(text="ok", usage=Usage(1, 1)))
                elif reply.status != 200:
                    error = {"type": reply.error_type, "message": reply.error_message}
                    extra = {"retry-after": reply.retry_after} if reply.status == 429 else {}
                    self._json(reply.status, {"type": "error", "error": error}, extra)
                else:
                    self._answer(request, reply)

            def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.send_header("request-id", "req_fake")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def _answer(self, request: Request, reply: Reply) -> None:
                model = request.body.get("model", api.model)
                if not request.body.get("stream"):
                    self._json(200, _message(model, reply, _content(reply)))
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()
                self.close_connection = True
                deltas = 0
                try:
                    for chunk in _stream(model, reply):
                        if chunk.startswith(b"event: content_block_delta"):
                            deltas += 1
                            if reply.cut_after is not None and deltas > reply.cut_after:
                                self.connection.shutdown(socket.SHUT_RDWR)  # cut mid-way
                                return
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away (an interrupt)

        return Handler


def _is_turn(request: Request) -> bool:
    return request.path.startswith("/v1/messages") and "count_tokens" not in request.path


def _content(reply: Reply) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
    if reply.tool:
        content.append(
            {"type": "tool_use", "id": reply.tool_id, "name": reply.tool[0], "input": reply.tool[1]}
        )
    return content


def _usage(usage: Usage, output: int) -> dict[str, int]:
    return {
        "input_tokens": usage.input,
        "output_tokens": output,
        "cache_read_input_tokens": usage.cache_read,
        "cache_creation_input_tokens": usage.cache_write,
    }


def _message(model: str, reply: Reply, content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if reply.tool else "end_turn",
        "stop_sequence": None,
        "usage": _usage(reply.usage, reply.usage.output),
    }


def _stream(model: str, reply: Reply) -> Iterator[bytes]:
    final = _message(model, reply, [])
    start = {**final, "stop_reason": None, "usage": _usage(reply.usage, 1)}
    yield _sse("message_start", {"type": "message_start", "message": start})
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if reply.text:
        words = reply.text.split(" ")
        pieces = [w if n == 0 else " " + w for n, w in enumerate(words)]
        deltas = [{"type": "text_delta", "text": piece} for piece in pieces]
        blocks.append(({"type": "text", "text": ""}, deltas))
    if reply.tool:
        name, tool_input = reply.tool
        block = {"type": "tool_use", "id": reply.tool_id, "name": name, "input": {}}
        blocks.append(
            (block, [{"type": "input_json_delta", "partial_json": json.dumps(tool_input)}])
        )
    for index, (block, deltas) in enumerate(blocks):
        yield _sse(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": block},
        )
        for n, delta in enumerate(deltas):
            yield _sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
            if index == 0 and n == 0 and reply.hold is not None:
                reply.held.set()
                reply.hold.wait(60)
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
    end = {"stop_reason": final["stop_reason"], "stop_sequence": None}
    usage = {"output_tokens": reply.usage.output}
    yield _sse("message_delta", {"type": "message_delta", "delta": end, "usage": usage})
    yield _sse("message_stop", {"type": "message_stop"})
