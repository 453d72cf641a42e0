"""The HTTP plumbing the local forge servers share: routing, a request log, injected faults.

Each server listens on 127.0.0.1 on a port the OS picks, serves each request on its own thread
(so a deliberately slow answer does not stall the next), records every request (method, path,
query) so tests and the benchmark can count them, and can be told to misbehave: answer an
error, a rate limit with `Retry-After`, or answer late enough to time out.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

_Server = TypeVar("_Server", bound="LocalServer")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """Misbehave on requests matching `pattern` (a regex on the path) and `method`."""

    pattern: str
    status: int | None = 502
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int | None = None  # None: forever
    method: str | None = None

    def matches(self, request: Request) -> bool:
        if self.method and self.method != request.method:
            return False
        return re.search(self.pattern, request.path) is not None


Handler = Callable[[Request, "re.Match[str]"], Response]


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 with routes, a request log and faults."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- configuration ------------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def fault(self, pattern: str, **kwargs: Any) -> Fault:
        made = Fault(pattern, **kwargs)
        self.faults.append(made)
        return made

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def count(self, pattern: str = "", method: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if re.search(pattern, r.path)
                       and (method is None or r.method == method))

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes; without this, Nagle's algorithm and
                # the client's delayed ACK add 40 ms to every response.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self) -> None:
                server._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True,
                                        name=f"{type(self).__name__}")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self: _Server) -> _Server:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- dispatch -----------------------------------------------------------------------------

    def authorize(self, request: Request) -> Response | None:
        """Subclasses check credentials here; a Response refuses the request."""
        return None

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        request = Request(
            method=handler.command, path=unquote(parts.path) if "%2F" not in parts.path
            else parts.path, query={k: v[-1] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in handler.headers.items()}, body=body)
        with self._lock:
            self.requests.append(request)
            fault = next((f for f in self.faults if f.matches(request)
                          and (f.times is None or f.times > 0)), None)
            if fault is not None and fault.times is not None:
                fault.times -= 1
        response: Response | None = None
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                response = Response(fault.status, fault.body if fault.body is not None
                                    else {"message": "Server Error"}, dict(fault.headers))
        if response is None:
            response = self.authorize(request) or self._route(request)
        self._send(handler, response)

    def _route(self, request: Request) -> Response:
        for method, pattern, route in self.routes:
            if method != request.method:
                continue
            match = pattern.match(request.path)
            if match:
                try:
                    return route(request, match)
                except KeyError as exc:
                    return Response(404, {"message": f"Not Found ({exc})"})
        return Response(404, {"message": "Not Found"})

    def _send(self, handler: BaseHTTPRequestHandler, response: Response) -> None:
        data = b"" if response.body is None else json.dumps(response.body).encode()
        try:
            handler.send_response(response.status)
            headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)


def paginate(items: list[Any], request: Request, base_url: str, *,
             default: int = 30, maximum: int = 100) -> tuple[list[Any], dict[str, str]]:
    """One page of `items` and the `Link` header (`page`/`per_page`, GitHub and GitLab style)."""
    try:
        per_page = max(1, min(maximum, int(request.query.get("per_page", default))))
        page = max(1, int(request.query.get("page", 1)))
    except ValueError:
        per_page, page = default, 1
    start = (page - 1) * per_page
    chunk = items[start:start + per_page]
    pages = max(1, -(-len(items) // per_page))
    links = []

    def link(number: int, rel: str) -> str:
        query = {**request.query, "page": str(number), "per_page": str(per_page)}
        text = "&".join(f"{k}={v}" for k, v in query.items())
        return f'<{base_url}{request.path}?{text}>; rel="{rel}"'

    if page < pages:
        links.append(link(page + 1, "next"))
        links.append(link(pages, "last"))
    if page > 1:
        links.append(link(page - 1, "prev"))
        links.append(link(1, "first"))
    headers = {"Link": ", ".join(links)} if links else {}
    headers.update({"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(items)),
                    "X-Total-Pages": str(pages), "X-Next-Page": str(page + 1) if page < pages
                    else "", "X-Prev-Page": str(page - 1) if page > 1 else ""})
    return chunk, headers
