"""A small HTTP proxy in front of the real Label Studio, for the faults a real server cannot be
made to produce on demand: an answer lost after the request was sent (and the request delivered
late), a slow answer, a connection reset in the middle of a body, an error page that echoes the
request's headers. Everything else is forwarded unchanged. Loopback only, bounded in time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

Rule = Callable[["Request"], str | None]  # returns the fault to inject, or None to forward


class Request:
    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body


class FaultProxy:
    """``FaultProxy(upstream, rule)``: ``rule(request)`` names a fault ("lose-answer",
    "lose-answer-deliver-late", "slow", "reset-mid-body", "echo-headers") or None."""

    def __init__(self, upstream: str, rule: Rule, *, late_by: float = 4.0, slow_by: float = 3.0) -> None:
        self.upstream, self.rule, self.late_by, self.slow_by = upstream.rstrip("/"), rule, late_by, slow_by
        self.injected: list[tuple[str, str, str]] = []
        self.late: list[threading.Thread] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, dict(self.headers.items()), body)
                fault = proxy.rule(request)
                if fault:
                    proxy.injected.append((fault, self.command, self.path))
                if fault in ("lose-answer", "lose-answer-deliver-late"):
                    if fault == "lose-answer-deliver-late":
                        thread = threading.Thread(target=proxy._deliver_late, args=(request,), daemon=True)
                        thread.start()
                        proxy.late.append(thread)
                    self.close_connection = True  # no answer at all: the client sees a dropped connection
                    return
                if fault == "echo-headers":
                    text = "".join(f"{k}: {v}\n" for k, v in self.headers.items()).encode()
                    self.send_response(502)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                    return
                if fault == "slow":
                    time.sleep(proxy.slow_by)
                answer = proxy._forward(request)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(key, value)
                content = answer.content
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if fault == "reset-mid-body":
                    self.wfile.write(content[: len(content) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _forward(self, request: Request) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        with httpx.Client(timeout=120) as client:
            return client.request(request.method, self.upstream + request.path, headers=headers,
                                  content=request.body)

    def _deliver_late(self, request: Request) -> None:
        time.sleep(self.late_by)
        self._forward(request)

    def __enter__(self) -> "FaultProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for thread in self.late:
            thread.join(timeout=30)
        self.server.shutdown()
        self.server.server_close()
