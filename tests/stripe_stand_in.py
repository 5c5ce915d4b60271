"""A local HTTP stand-in for Stripe, for what localstripe cannot play (Stripe Connect,
a Stripe answering 5xx): it records the requests the stripe library sends."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StandIn:
    """A local HTTP server in a thread that records each request (method, path, headers,
    decoded form fields) and answers `status` with `body` (a dict, or a function of the
    request's fields)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.body = {}
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fields = dict(urllib.parse.parse_qsl(raw.decode()))
                stand_in.requests.append({"method": self.command, "path": self.path,
                                          "headers": dict(self.headers), "fields": fields,
                                          "raw": raw})
                body = stand_in.body(fields) if callable(stand_in.body) else stand_in.body
                data = json.dumps(body).encode()
                self.send_response(stand_in.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args):  # keep the test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)

    def wait_for(self, text: bytes, timeout: float = 5.0) -> dict:
        """The first request whose body holds TEXT, once it came."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for request in list(self.requests):
                if text in request["raw"]:
                    return request
            time.sleep(0.05)
        raise AssertionError(f"no request with {text!r}: {self.requests}")


@contextmanager
def connect_stand_in(app, transfer_id):
    """Stripe Connect, which localstripe lacks, against a StandIn that answers each
    request with a transfer; yields it and a config with Connect on that points at it,
    inside a request context."""
    stand_in = StandIn()
    stand_in.body = {"id": transfer_id, "object": "transfer"}
    stand_in.thread.start()
    try:
        config = dict(app.config, STRIPE_API_BASE=stand_in.url, STRIPE_CONNECT_ENABLED=True)
        with app.test_request_context():
            yield stand_in, config
    finally:
        stand_in.server.shutdown()
        stand_in.server.server_close()
