"""A hostile target for the verdict tests: a TCP server on loopback that misbehaves on chosen
routes and forwards every other request to a real upstream (the embedded target).

Runs as its own process (the test process is patched by gevent):

    python tests/hostile.py --mode html --route "POST /data" --upstream http://127.0.0.1:PORT

prints one JSON ready line {"url": ...} and serves until SIGTERM. Modes, applied to the requests
of --route (every route with --route all):

    pass        forward unchanged
    html        HTTP 501 with an HTML page
    garbage     random bytes that are not HTTP, then close
    reset       close the connection with a TCP reset, no answer
    hang        read the request and never answer
    no-envelope HTTP 200 with JSON that is no TagoIO envelope
    dialect     forward, then answer HTTP 202 and "N items added" for "N Data Added"

and the perturbations of a contract answer (PERTURBATIONS; tests/contract_perturbation/):

    other-2xx          forward; a success comes with HTTP 202 instead
    failure-200        answer a failure envelope with HTTP 200, without forwarding
    no-result          forward; a success loses its result
    reworded           forward; a text result comes in other words and case
    message-in-result  forward; a failure's message moves into result, as a string
    extra-key          forward; the envelope gains an undocumented key
    absent             answer 404 "route not found", without forwarding
    array-refused      a list parameter in its plain form (variables=x) is refused with a 200
                       failure envelope naming it; the name[]= form is forwarded

and one that perturbs nothing the contract forbids:

    variants           forward; answer with the other documented variant wherever sources
                       disagree: 200 for 201, deviceID for device_id, expire_date for
                       expire_time, the failure message in result.message

--route takes route ids of schemas/routes.json ("DELETE /device/{id}") as well as literal paths.

--die-after N closes the listening socket and every connection once N requests of --route have
been served: from then on the target refuses connections, as a crashed server does (counting
requests, not seconds, puts the death at the same point of any run, however slow the machine).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tagocheck.spec.routes import route_table

PERTURBATIONS = (
    "other-2xx",
    "failure-200",
    "no-result",
    "reworded",
    "message-in-result",
    "extra-key",
    "absent",
    "array-refused",
)
MODES = (
    "pass",
    "html",
    "garbage",
    "reset",
    "hang",
    "no-envelope",
    "dialect",
    "variants",
    *PERTURBATIONS,
)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


class Request:
    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        self.method, self.target, self.headers, self.body = method, target, headers, body

    @property
    def route(self) -> str:
        return f"{self.method} {urlsplit(self.target).path}"

    @property
    def route_id(self) -> str | None:
        found = route_table().match(self.method, urlsplit(self.target).path)
        return found.route.id if found else None

    def plain_list_param(self) -> str | None:
        """A list parameter of this route sent in its plain form (`variables=x`), if any."""
        found = route_table().match(self.method, urlsplit(self.target).path)
        lists = found.route.array_params if found else ()
        keys = [k for k, _ in parse_qsl(urlsplit(self.target).query, keep_blank_values=True)]
        return next((k for k in keys if k in lists), None)


def read_request(stream) -> Request | None:
    line = stream.readline(65536)
    if not line:
        return None
    method, target, _version = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        header = stream.readline(65536)
        if header in (b"\r\n", b"\n", b""):
            break
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    return Request(method, target, headers, stream.read(length) if length else b"")


def answer(status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None):
    reason = http.client.responses.get(status, "Status")
    head = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}"]
    head += [f"Content-Length: {len(body)}", "Connection: keep-alive"]
    head += [f"{k}: {v}" for k, v in (extra or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class Handler(socketserver.StreamRequestHandler):
    server: Server

    def handle(self) -> None:
        self.server.connections.add(self.connection)
        upstream = None
        try:
            while True:
                request = read_request(self.rfile)
                if request is None:
                    return
                applies = self.server.applies(request)
                if applies and self.server.count_towards_death():
                    return
                mode = self.server.mode if applies else "pass"
                if mode == "hang":
                    self.server.stopping.wait()
                    return
                if mode == "reset":
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    return
                if mode == "garbage":
                    self.wfile.write(os.urandom(64).replace(b"HTTP", b"xxxx") + b"\r\n\r\n")
                    return
                if mode == "html":
                    page = b"<html><body><h1>501 Not Implemented</h1></body></html>"
                    self.wfile.write(answer(501, page, "text/html"))
                    continue
                if mode == "no-envelope":
                    self.wfile.write(answer(200, b'{"ok": true}', "application/json"))
                    continue
                refusal = refuse(mode, request)
                if refusal is not None:
                    self.wfile.write(answer(*refusal, "application/json"))
                    continue
                try:
                    upstream = upstream or http.client.HTTPConnection(*self.server.upstream)
                    status, body, headers = forward(upstream, request)
                except (http.client.HTTPException, OSError):  # idle keep-alive closed upstream
                    upstream.close()
                    upstream = http.client.HTTPConnection(*self.server.upstream)
                    status, body, headers = forward(upstream, request)
                if mode == "dialect" and 200 <= status < 300:
                    status = 202
                    body = re.sub(rb"(\d+) Data Added", rb"\1 items added", body)
                status, body = perturb(mode, status, body)
                self.wfile.write(
                    answer(
                        status,
                        body,
                        headers.get("content-type", "text/plain"),
                        {k: v for k, v in headers.items() if k == "retry-after"},
                    )
                )
        except (OSError, ValueError):
            return
        finally:
            self.server.connections.discard(self.connection)
            if upstream is not None:
                upstream.close()


def refuse(mode: str, request: Request) -> tuple[int, bytes] | None:
    """The answer of a perturbation that answers in the target's place, or None to forward."""
    if mode == "failure-200":
        return 200, b'{"status": false, "message": "Request refused by the perturbation"}'
    if mode == "absent":
        return 404, b'{"status": false, "message": "route not found"}'
    if mode == "array-refused" and (name := request.plain_list_param()):
        said = {
            "status": False,
            "message": "Error on Query String parameters",
            "field_errors": {name: ["Expected array, received string"]},
        }
        return 200, json.dumps(said).encode()
    return None


def perturb(mode: str, status: int, body: bytes) -> tuple[int, bytes]:
    """A forwarded answer, perturbed; answers a perturbation does not touch pass unchanged."""
    try:
        value = json.loads(body)
    except ValueError:
        return status, body
    if not isinstance(value, dict):
        return status, body
    succeeded = value.get("status") is True and 200 <= status < 300
    if mode == "variants":
        return other_variants(status, value)
    if mode == "other-2xx" and succeeded:
        return 202, body
    if mode == "no-result" and succeeded:
        value.pop("result", None)
    elif mode == "reworded" and succeeded and isinstance(value.get("result"), str):
        value["result"] = f"done: {value['result'].swapcase()}"
    elif mode == "message-in-result" and value.get("status") is False and "message" in value:
        value["result"] = value.pop("message")
    elif mode == "extra-key":
        value["x_perturbed"] = True
    else:
        return status, body
    return status, json.dumps(value).encode()


def other_variants(status: int, value: dict) -> tuple[int, bytes]:
    """The documented variant the embedded target does not use, at every point sources disagree."""
    result = value.get("result")
    if value.get("status") is False and isinstance(value.get("message"), str):
        value["result"] = {"message": value.pop("message")}
    if isinstance(result, dict):
        if "device_id" in result:
            result["deviceID"] = result.pop("device_id")
        if "expire_time" in result and "permission" in result:
            result["expire_date"] = result.pop("expire_time")
    return (200 if status == 201 else status), json.dumps(value).encode()


def forward(upstream: http.client.HTTPConnection, request: Request):
    headers = {k: v for k, v in request.headers.items() if k not in HOP_BY_HOP}
    upstream.request(request.method, request.target, body=request.body or None, headers=headers)
    reply = upstream.getresponse()
    body = reply.read()
    return reply.status, body, {k.lower(): v for k, v in reply.getheaders()}


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, mode: str, routes: set[str], upstream: str | None, die_after: int | None = None
    ) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.mode, self.routes = mode, routes
        parts = urlsplit(upstream) if upstream else None
        self.upstream = (parts.hostname, parts.port) if parts else None
        self.connections: set[socket.socket] = set()
        self.stopping = threading.Event()
        self.die_after = die_after
        self.served = 0
        self.lock = threading.Lock()

    def applies(self, request: Request) -> bool:
        if "all" in self.routes or request.route in self.routes:
            return True
        return request.route_id in self.routes

    def count_towards_death(self) -> bool:
        """Count one request of --route; True once the server has died of them."""
        if self.die_after is None:
            return False
        with self.lock:
            self.served += 1
            if self.served == self.die_after + 1:
                threading.Thread(target=self.die, daemon=True).start()
            return self.served > self.die_after

    def die(self) -> None:
        """Refuse from now on: close the listener and every connection."""
        self.shutdown()
        self.socket.close()
        for connection in list(self.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.stopping.set()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--route", action="append", default=[])
    parser.add_argument("--upstream")
    parser.add_argument("--die-after", type=int)
    args = parser.parse_args()
    server = Server(args.mode, set(args.route or ["POST /data"]), args.upstream, args.die_after)
    signal.signal(signal.SIGTERM, lambda *_: (server.stopping.set(), sys.exit(0)))
    host, port = server.server_address[:2]
    print(json.dumps({"url": f"http://{host}:{port}"}), flush=True)
    started = time.time()
    server.serve_forever(poll_interval=0.1)
    # dead: keep the process (and its refused port) until told to stop
    while time.time() - started < 3600:
        time.sleep(1)


if __name__ == "__main__":
    main()
