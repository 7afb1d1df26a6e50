"""Bad input and unusable targets, from every entry point: `tagocheck *`, `locust -f
loadtests/*.py` and `pytest contract/` each answer one line (at most two on stderr, Locust's
own start line included) and exit status 2, never a traceback."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tagocheck.load.ports import free_port
from tagocheck.server.launcher import start_target

from .sampling import chosen

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


class _Html(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body><h1>Welcome to nginx!</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve_forever(server: socket.socket, answer: bytes | None) -> None:
    """A raw listener: writes `answer` (garbage) and closes, or (None) never answers."""
    held = []
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        if answer is None:
            held.append(conn)
            continue
        try:
            conn.recv(65536)
            conn.sendall(answer)
        finally:
            conn.close()


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    """URLs of targets that cannot be used, each in its own way."""
    html = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    threading.Thread(target=html.serve_forever, daemon=True).start()
    raw = {}
    for name, answer in (("garbage", b"\x00\x17garbage, not HTTP\r\n\r\n"), ("hang", None)):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        threading.Thread(target=_serve_forever, args=(sock, answer), daemon=True).start()
        raw[name] = sock
    tls = start_target(tmp_path_factory.mktemp("tls"), "--tls")
    urls = {
        "refused": f"http://127.0.0.1:{free_port()}",
        "html": f"http://127.0.0.1:{html.server_address[1]}",
        "garbage": f"http://127.0.0.1:{raw['garbage'].getsockname()[1]}",
        "hang": f"http://127.0.0.1:{raw['hang'].getsockname()[1]}",
        "tls": tls.url,
    }
    yield urls
    tls.stop()
    html.shutdown()
    for sock in raw.values():
        sock.close()


@pytest.fixture(scope="module")
def a_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("file") / "a-file"
    path.write_text("not a directory")
    return path


TOKEN = "11111111-2222-3333-4444-555555555555"

# (arguments, words the one line must hold); {refused} etc. are the hosts above, {file} a file
TAGOCHECK = [
    (["capacity", "--interval", "nan"], "--interval"),
    (["capacity", "--interval", "inf"], "--interval"),
    (["capacity", "--interval", "1e308"], "at most 86,400"),
    (["capacity", "--jitter", "nan"], "--jitter"),
    (["capacity", "--devices", "0"], "from 1"),
    (["capacity", "--devices", "100000000"], "largest fleet measured"),
    (["capacity", "--processes", "64"], "cores"),
    (["capacity", "--processes", "-2"], "--processes"),
    (["capacity", "--users", "1000000"], "users"),
    (["capacity", "--check-error-rate", "5"], "at most 1"),
    (["capacity", "--steps", "-1"], "--steps"),
    (["capacity", "--step-seconds", "nan"], "--step-seconds"),
    (["capacity", "--plan", "nosuch"], "one of free, starter, scale, none"),
    (["capacity", "--interval", "10", "--step-seconds", "5"], "shorter than the fleet's interval"),
    (["capacity", "--run-dir", "/proc/nope"], "/proc/nope"),
    (["capacity", "--run-dir", "{file}"], "is a file"),
    (["capacity", "--run-dir", "{file}/below"], "is a file"),
    (["capacity", "--ca-cert", "/nonexistent.pem"], "no such file"),
    (["capacity", "--no-such-flag"], "unrecognized"),
    (["capacity", "--target", "127.0.0.1:9", "--plan", "free"], "lacks http:// or https://"),
    (["capacity", "--target", "{refused}", "--plan", "free"], "connection refused"),
    (["capacity", "--target", "{html}", "--plan", "free"], "does not answer like a TagoIO"),
    (["capacity", "--target", "{garbage}", "--plan", "free"], "not HTTP"),
    (["capacity", "--target", "{tls}", "--plan", "free"], "--ca-cert"),
    (["serve", "--port", "70000"], "65,535"),
    (["serve", "--rate-window-seconds", "nan"], "--rate-window-seconds"),
    (["serve", "--seed-devices", "-1"], "--seed-devices"),
    (["serve", "--fault", "nosuch"], "nosuch"),
    (["report", "/nonexistent-run"], "/nonexistent-run"),
    (["validate", "nosuch", "-"], "no schema named"),
    (["routes", "--plan", "nosuch"], "unknown plan"),
    (["nosuch"], "invalid choice"),
]

LOCUST = [
    (["--interval", "nan"], "--interval"),
    (["--interval", "inf"], "--interval"),
    (["--interval", "1e308"], "at most 86,400"),
    (["--jitter", "nan"], "--jitter"),
    (["--devices", "0"], "from 1"),
    (["--devices", "100000000"], "largest fleet measured"),
    (["--check-error-rate", "5"], "at most 1"),
    (["--request-timeout", "0"], "--request-timeout"),
    (["--processes", "64"], "cores"),
    (["-u", "1000000"], "users"),
    (["--plan", "nosuch"], "one of free, starter, scale, none"),
    (["--retry", "exp:1:2"], "--retry"),
    (["--outage", "10+5,12+1"], "overlap"),
    (["--backfill", "paced:0"], "--backfill"),
    (["--buffer", "0"], "--buffer"),
    (["--run-dir", "/proc/nope"], "/proc/nope"),
    (["--run-dir", "{file}"], "is a file"),
    (["--ca-cert", "/nonexistent.pem"], "no such file"),
    (["--host", "127.0.0.1:9", "--profile-token", TOKEN], "lacks http:// or https://"),
    (["--host", "{refused}", "--profile-token", TOKEN], "connection refused"),
    (["--host", "{html}", "--profile-token", TOKEN], "does not answer like a TagoIO"),
    (["--host", "{garbage}", "--profile-token", TOKEN], "not HTTP"),
    (["--host", "{hang}", "--profile-token", TOKEN, "--request-timeout", "2"], "within 2 s"),
    (["--host", "{tls}", "--profile-token", TOKEN], "--ca-cert"),
    (["--host", "{refused}"], "--profile-token or --fleet-file"),
]

CONTRACT = [
    (["--plan", "nosuch"], "one of"),
    (["--contract-seed", "x"], "--contract-seed"),
    (["--rate-window", "nan"], "--rate-window"),
    (["--latency-budget-ms", "-1"], "--latency-budget-ms"),
    (["--ca-cert", "/nonexistent.pem"], "no such file"),
    (["--target", "127.0.0.1:9", "--plan", "none"], "lacks http:// or https://"),
    (["--target", "{refused}"], "--plan"),
    (["--target", "{refused}", "--plan", "none"], "connection refused"),
    (["--target", "{html}", "--plan", "none"], "does not answer like a TagoIO"),
    (["--target", "{garbage}", "--plan", "none"], "not HTTP"),
    (["--target", "{tls}", "--plan", "none"], "--ca-cert"),
]


def sample(cases: list) -> list:
    """All cases with TAGOCHECK_ENTRY_POINTS=all (`make entry-points`); `make test` takes every
    third one, and every unusable-target case (refused, HTML, garbage, hang, TLS), and CI adds a
    fifth of the rest in turn (tests/sampling.py)."""
    return chosen("ENTRY_POINTS", cases, lambda i, case: i % 3 == 0 or "{" in " ".join(case[0]))


def _id(value: object) -> str:
    return " ".join(value) if isinstance(value, list) else str(value)


def _run(command: list[str], hosts: dict, a_file: Path, tmp_path: Path, **env: str):
    filled = [arg.format(file=a_file, **hosts) for arg in command]
    environment = {**os.environ, "TAGOIO_PROFILE_TOKEN": TOKEN, **env}
    environment.pop("TAGOIO_API", None)
    return subprocess.run(
        filled, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=environment
    )


def _one_line(done: subprocess.CompletedProcess, words: str) -> None:
    said = done.stdout + done.stderr
    assert done.returncode == 2, said[-2000:]
    assert "Traceback" not in said, said[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2, done.stderr[-2000:]
    assert words in lines[-1], done.stderr[-2000:]


@pytest.mark.parametrize(("arguments", "words"), sample(TAGOCHECK), ids=_id)
def test_tagocheck(arguments, words, hosts, a_file, tmp_path):
    done = _run([str(BIN / "tagocheck"), *arguments], hosts, a_file, tmp_path)
    _one_line(done, words)
    assert not any(tmp_path.iterdir()), "a refused run leaves nothing behind"


@pytest.mark.parametrize(("arguments", "words"), sample(LOCUST), ids=_id)
def test_locust(arguments, words, hosts, a_file, tmp_path):
    locustfile = str(ROOT / "loadtests" / "fleet.py")
    command = [str(BIN / "locust"), "-f", locustfile, "--headless", "-t", "5s", "-u", "2"]
    done = _run([*command, "--run-dir", "run", *arguments], hosts, a_file, tmp_path)
    _one_line(done, words)


@pytest.mark.parametrize(("arguments", "words"), sample(CONTRACT), ids=_id)
def test_contract_suite(arguments, words, hosts, a_file, tmp_path):
    command = [str(BIN / "pytest"), str(ROOT / "contract"), "-p", "no:cacheprovider", "-q"]
    done = _run([*command, *arguments], hosts, a_file, tmp_path)
    _one_line(done, words)


def test_a_second_serve_on_one_state_dir_is_refused(tmp_path):
    with start_target(tmp_path / "state") as first:
        done = subprocess.run(
            [
                str(BIN / "tagocheck"),
                "serve",
                "--port",
                "0",
                "--state-dir",
                str(tmp_path / "state"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and "in use by another tagocheck serve" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        info = (tmp_path / "state" / "server.json").read_text()
        assert first.url in info  # the first one's, not overwritten
