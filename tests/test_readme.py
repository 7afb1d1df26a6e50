"""Every command of the README's shell blocks, run as written from outside the clone: each exits
with the status its comment promises (`# exit N`), and a load run's verdict is of the class that
status stands for (0: held, 1: findings, 130: interrupted).

Commands are run as a user outside the clone runs them: `.venv/bin/X` is `$TAGOCHECK/.venv/bin/X`
and `loadtests/`, `contract/` are under `$TAGOCHECK/`, as the README says. What a command needs
from the user's world comes from an embedded target started for the test: a real account's URL
and tokens (`https://api.us-e1.tago.io`, `p-...`, `URL`, `TOKEN`, `$T`), an answer to validate.
A command that runs for minutes (`-t 10m`, a 900-s step, a server) is started as written and
stopped with SIGINT after a few seconds: it must then say it was interrupted (130) or, for a
server, stop cleanly. `make readme` runs every command whole where it ends by itself;
`make test` runs the quick ones whole and a sample of the rest stopped early (SAMPLE).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tagocheck.report.verdict import judge_dir
from tagocheck.server.launcher import start_target

ROOT = Path(__file__).resolve().parents[1]
ALL = os.environ.get("TAGOCHECK_README") == "all"
STOPPED_AFTER = 15.0
"""Seconds a long command runs before the test interrupts it."""
CLASS_OF_STATUS = {0: "held", 1: "findings", 130: "interrupted"}

NOT_RUN = {
    "make test": "it is the suite this test belongs to",
    "SCHEMATHESIS_HOOKS=": "a real account's throwaway profile at 10 requests a minute (about an "
    "hour); tests/test_schemathesis.py runs the same hooks against the embedded target",
}
"""Commands not run, by a piece of their text, and why."""

LONG = re.compile(r"tagocheck capacity|pytest|locust|make demo|tagocheck serve")
"""Commands that take minutes (or, a server, run until stopped)."""

SAMPLE = (
    "tagocheck capacity --plan starter --devices 80",  # the outage recipe
    "loadtests/capacity.py",
    "serve --port 0 --state-dir",
)
"""The long commands `make test` starts as written and stops early; `make readme` runs every
command whole (a server, which never ends by itself, is stopped)."""


@dataclass
class Command:
    text: str
    promised: int | None
    block: int

    def __str__(self) -> str:
        return self.text


def commands() -> list[Command]:
    """Every shell block's commands, continuation lines joined, with the status promised."""
    readme = (ROOT / "README.md").read_text()
    found = []
    for number, block in enumerate(re.findall(r"```sh\n(.*?)```", readme, re.S)):
        if "<<EOF" in block:  # a script with a here-document: one command
            found.append(Command(block.strip(), None, number))
            continue
        pending = ""
        for line in block.strip().splitlines():
            pending += line.rstrip("\\").rstrip() + " "
            if line.endswith("\\"):
                continue
            command, _, comment = pending.partition("  #")
            promised = re.search(r"\bexit (\d+)", comment)
            found.append(
                Command(" ".join(command.split()), int(promised[1]) if promised else None, number)
            )
            pending = ""
    return found


def not_run_because(command: Command) -> str | None:
    return next((why for text, why in NOT_RUN.items() if text in command.text), None)


def test_every_readme_command_promises_an_exit_status_or_says_why_it_is_not_run():
    unstated = [str(c) for c in commands() if c.promised is None and not_run_because(c) is None]
    assert not unstated, unstated


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An embedded target standing for the user's account, and the user's own files."""
    home = tmp_path_factory.mktemp("user")
    account = ("--plan", "starter", "--seed-devices", "3", "--tagotip-mqtt-port", "0")
    account += ("--tagotip-udp-port", "0", "--tagotip-tcp-port", "0")
    with start_target(home / "account", *account) as target:
        fleet = json.loads(Path(target.info["fleet_file"]).read_text())
        device_token = fleet["devices"][0]["token"]
        with start_target(
            home / "struggling", "--plan", "unlimited", "--fault", "server-errors=0.3"
        ) as struggling:  # the retries recipe's, started as its text says
            yield {"target": target, "struggling": struggling, "device_token": device_token}


def as_a_user_types_it(command: Command, world: dict) -> tuple[str, dict[str, str]]:
    """The command from outside the clone, the account's placeholders filled in."""
    target = world["struggling"] if "--retry sdk-js" in command.text else world["target"]
    text = command.text
    text = re.sub(r"(?<![\w/$])\.venv/bin/", "$TAGOCHECK/.venv/bin/", text)
    text = re.sub(r"(?<![\w/$])(loadtests|contract|tests)/", r"$TAGOCHECK/\1/", text)
    text = text.replace("https://api.us-e1.tago.io", target.url)
    text = text.replace("http://my-server:8000", target.url)
    text = re.sub(r"TAGOIO_PROFILE_TOKEN=\S+", "TAGOIO_PROFILE_TOKEN=$PROFILE", text)
    text = re.sub(r"--profile-token \S+", "--profile-token $PROFILE", text)
    text = text.replace("--host URL", f"--host {target.url}")
    text = text.replace("https://http.tip.us-e1.tago.io", target.info["tagotip_http_url"])
    text = text.replace("mqtt.tip.us-e1.tago.io:1883", str(target.info["tagotip_mqtt"]))
    text = text.replace("udp.tip.us-e1.tago.io:5683", str(target.info["tagotip_udp"]))
    text = text.replace("tcp.tip.us-e1.tago.io:5693", str(target.info["tagotip_tcp"]))
    text = re.sub(r"--authorization \S+", "--authorization $AUTH", text)
    text = text.replace("make ", f"make -C {ROOT} ")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAGOIO_", "LOCUST_"))}
    env.update(
        TAGOCHECK=str(ROOT),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
        PROFILE=target.profile_token,
        T=world["device_token"],
        AUTH=target.info["authorization"],
    )
    if "$TAGOIO_API" in text:  # elsewhere the embedded target is the command's own
        env["TAGOIO_API"] = target.url
    return text, env


def cases() -> list:
    """(command, stopped early) for every command run; the long ones out of the sample are
    skipped under `make test`."""
    found = []
    for command in commands():
        if not_run_because(command) is not None:
            continue
        long = bool(LONG.search(command.text))
        serves = "tagocheck serve" in command.text
        sampled = any(text in command.text for text in SAMPLE)
        marks = []
        if long and not sampled and not ALL:
            marks.append(pytest.mark.skip(reason="minutes long: `make readme` runs it whole"))
        stopped = serves or (long and not ALL)
        found.append(pytest.param(command, stopped, marks=marks, id=command.text[:60]))
    return found


@pytest.mark.parametrize(("command", "stop_early"), cases())
def test_a_readme_command_runs_as_written(command: Command, stop_early: bool, world, tmp_path):
    if any(step == command.text for step, _ in ci_recipe()):
        pytest.skip("the CI recipe runs in order: test_the_ci_recipe_runs_as_written...")
    prepare(command, world, tmp_path)
    text, env = as_a_user_types_it(command, world)
    process = subprocess.Popen(
        ["bash", "-c", text],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    stopped = False
    try:
        output, _ = process.communicate(timeout=STOPPED_AFTER if stop_early else 1800)
    except subprocess.TimeoutExpired:
        if not stop_early:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        stopped = True
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        try:
            output, _ = process.communicate(timeout=180)
        except subprocess.TimeoutExpired:  # it ignored Ctrl-C: stop it, then fail
            os.killpg(process.pid, signal.SIGTERM)
            process.communicate(timeout=180)
            raise
    said = output[-3000:]
    serves = "tagocheck serve" in text
    if serves:
        assert '"url"' in output, said  # its ready line
    # a load run stopped early says so (130); a server stops cleanly, as promised
    expected = 130 if stopped and not serves else command.promised
    assert process.returncode == expected, (text, said)
    run_dir = written_run(text, tmp_path)
    if run_dir is not None and expected in CLASS_OF_STATUS:
        assert judge_dir(run_dir).outcome == CLASS_OF_STATUS[expected], (text, said)


def prepare(command: Command, world: dict, tmp_path: Path) -> None:
    """What the command reads that the user has: an answer, its result part, two runs."""
    if "answer.json" in command.text or "result.json" in command.text:
        import requests

        target = world["target"]
        answer = requests.get(
            target.url + "/data", headers={"Device-Token": world["device_token"]}, timeout=10
        ).json()
        (tmp_path / "answer.json").write_text(json.dumps(answer))
        (tmp_path / "result.json").write_text(json.dumps(answer["result"]))
    if "reports/RUN" in command.text:  # two earlier runs of the user's
        target = world["target"]
        for name in ("OLD", "RUN"):
            locust = [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "fleet.py")]
            locust += ["--headless", "--only-summary", "-u", "5", "-r", "5", "-t", "3s"]
            locust += ["--host", target.url, "--fleet-file", target.info["fleet_file"]]
            locust += ["--plan", "starter", "--devices", "3", "--interval", "1"]
            locust += ["--run-dir", str(tmp_path / "reports" / name)]
            subprocess.run(locust, cwd=tmp_path, capture_output=True, timeout=120, check=True)


def written_run(text: str, cwd: Path) -> Path | None:
    """The run directory a load command wrote: its --run-dir, or the newest under reports/."""
    given = re.search(r"--run-dir (\S+)", text)
    if given:
        path = cwd / given[1]
        return path if (path / "summary.json").exists() else None
    if "capacity" not in text:
        return None
    made = sorted((cwd / "reports").glob("capacity-*"), key=lambda p: p.stat().st_mtime)
    return made[-1] if made and (made[-1] / "summary.json").exists() else None


def ci_recipe() -> list[tuple[str, int | None]]:
    """The CI recipe's commands (the block that ends with the baseline comparison), with the
    exit status each comment promises."""
    found = commands()
    block = next(c.block for c in found if "--fail-on-regression" in c.text)
    return [(c.text, c.promised) for c in found if c.block == block]


@pytest.mark.long
def test_the_ci_recipe_runs_as_written_from_outside_the_clone(tmp_path):
    """In order: each step reads what the one before wrote."""
    recipe = ci_recipe()
    assert len(recipe) >= 4 and all(
        promised is not None for command, promised in recipe if not command.startswith("cp ")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAGOIO_", "LOCUST_"))}
    env["TAGOCHECK"] = str(ROOT)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    started = time.time()
    for command, promised in recipe:
        done = subprocess.run(
            command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        if promised is not None:
            assert done.returncode == promised, (command, done.stdout[-3000:], done.stderr[-2000:])
        else:
            assert done.returncode == 0, (command, done.stderr[-2000:])
    assert (tmp_path / "out" / "junit.xml").exists() and (tmp_path / "out" / "run").is_dir()
    assert (tmp_path / "out" / "run" / "report.html").exists()
    assert judge_dir(tmp_path / "out" / "run").outcome == "held"
    assert not (tmp_path / ".hypothesis").exists()
    assert time.time() - started < 600
