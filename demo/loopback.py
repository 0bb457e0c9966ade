"""A small OpenAI-compatible chat server on 127.0.0.1 that answers from recorded replies.

Used by the offline demo (a recorded teacher, so the real HTTP client path runs) and by tests
and benchmarks (faults: 429, 500, HTTP 200 with an empty body, truncated replies, delays).
It only ever binds to the loopback address.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer: content (+ reasoning), or a fault."""

    content: str = ""
    reasoning: str | None = None
    finish_reason: str = "stop"
    status: int = 200
    empty_body: bool = False
    delay_s: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_extra: dict[str, Any] | None = None  # provider fields, e.g. DeepSeek's prompt_cache_hit_tokens


Responder = Callable[[dict[str, Any]], Reply]


@dataclass
class LoopbackLog:
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def count(self) -> int:
        return len(self.requests)


SHAPES = ("reasoning_content", "reasoning", "inline", "template")  # how a server sends the thinking (see distill.reasoning)


def _message(reply: Reply, shape: str) -> dict[str, Any]:
    """The reply as a server of one shape sends it: the thinking in a field, inline in <think> tags, or
    inline with the opening tag left to the chat template."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.reasoning is None:
        return message
    if shape in ("reasoning_content", "reasoning"):
        message[shape] = reply.reasoning
    elif shape == "inline":
        message["content"] = f"<think>\n{reply.reasoning}\n</think>\n\n{reply.content}"
    else:
        message["content"] = f"{reply.reasoning}\n</think>\n\n{reply.content}"
    return message


def _chunks(body: dict[str, Any], reply: Reply, shape: str) -> list[dict[str, Any]]:
    """The same reply streamed: reasoning and content deltas a few words at a time, then the finish reason and usage."""
    message, base = _message(reply, shape), _completion(body, reply, shape)
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    for name in ("reasoning_content", "reasoning", "content"):
        words = str(message.get(name) or "").split(" ")
        for i in range(0, len(words), 4):
            piece = " ".join(words[i:i + 4]) + (" " if i + 4 < len(words) else "")
            if piece:
                deltas.append({name: piece})
    out = [{**{k: base[k] for k in ("id", "created", "model")}, "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    out.append({**{k: base[k] for k in ("id", "created", "model")}, "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}], "usage": base["usage"]})
    return out


def _completion(body: dict[str, Any], reply: Reply, shape: str = "reasoning_content") -> dict[str, Any]:
    prompt_words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    message = _message(reply, shape)
    completion = reply.completion_tokens if reply.completion_tokens is not None else len((reply.content + " " + (reply.reasoning or "")).split())
    prompt = reply.prompt_tokens if reply.prompt_tokens is not None else prompt_words
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "loopback"),
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason, "logprobs": None}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion, **(reply.usage_extra or {})},
    }


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default (5) refuses connections when a client opens dozens at once

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up mid-reply (a run stopping at a refused key) is not the server's error: stay quiet."""
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    """`with LoopbackServer(responder) as srv:` then point a role's base_url at `srv.base_url`."""

    def __init__(self, responder: Responder, port: int = 0, *, nodelay: bool = True, shape: str = "reasoning_content"):
        """`nodelay=False` keeps http.server's default (Nagle's algorithm on), whose ~40 ms stall per
        response is what bench/corpus.py's first row was specified against. `shape` is how replies carry
        their thinking (SHAPES); a request with `"stream": true` is answered as server-sent events."""
        if shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}")
        self.responder, self.shape = responder, shape
        self.log = LoopbackLog()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out as two writes: with Nagle's algorithm the body waits for the
            # client's delayed ACK, ~40 ms per response (uvicorn, behind vLLM, sets TCP_NODELAY too)
            disable_nagle_algorithm = nodelay

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, status: int, payload: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/health"):
                    self._send(200, b'{"status": "ok"}')
                elif self.path.rstrip("/").endswith("/models"):
                    self._send(200, json.dumps({"object": "list", "data": [{"id": "loopback", "object": "model"}]}).encode())
                else:
                    self._send(404, b'{"error": "not found"}')

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    self._send(400, b'{"error": {"message": "bad json"}}')
                    return
                with server.log.lock:
                    server.log.requests.append(body)
                    server.log.headers.append({k.lower(): v for k, v in self.headers.items()})
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                reply = server.responder(body)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.status != 200:
                    err = {"error": {"message": f"scripted fault {reply.status}", "type": "server_error", "code": reply.status}}
                    self._send(reply.status, json.dumps(err).encode())
                    return
                if reply.empty_body:
                    self._send(200, b"")
                    return
                if body.get("stream"):
                    events = "".join(f"data: {json.dumps(c)}\n\n" for c in _chunks(body, reply, server.shape)) + "data: [DONE]\n\n"
                    self._send(200, events.encode(), "text/event-stream")
                    return
                self._send(200, json.dumps(_completion(body, reply, server.shape)).encode())

        self._httpd = _Server(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "LoopbackServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="loopback-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if getattr(self, "_thread", None) is not None:  # shutdown() waits for serve_forever: only a started server has one
            self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "LoopbackServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def last_user_text(body: dict[str, Any]) -> str:
    for m in reversed(body.get("messages", [])):
        if m.get("role") == "user":
            c = m.get("content")
            return c if isinstance(c, str) else json.dumps(c)
    return ""

