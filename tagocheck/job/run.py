"""The main job's parts, in order, as processes: the embedded target (unless a target is given),
the contract suite's fast tests, the capacity scenario under Locust, and the report.

Every child runs in its own session, so Ctrl-C reaches this process only: it then passes one
SIGINT to the part running (Locust then stops its schedule, reconciles and writes what it had,
and removes the devices it created), waits for it, writes the report of what there is, and stops
the target. No process is left behind.
"""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from tagocheck.fleet import integrity
from tagocheck.fleet.model import FleetConfig
from tagocheck.job.preflight import Preflight
from tagocheck.judge.findings import VIOLATION
from tagocheck.load.ending import INTERRUPTED, Ending, write_not_run
from tagocheck.load.options import fleet_arguments
from tagocheck.load.ports import master_on_loopback
from tagocheck.options import FLEET_SHAPE, OPTIONS
from tagocheck.redact import scrub
from tagocheck.report import compliance
from tagocheck.server.launcher import (
    RunningTarget,
    TargetFailedToStart,
    signals_deferred,
    start_target,
    tagotip_binding,
)
from tagocheck.spec import ratelimits

ROOT = Path(__file__).resolve().parents[2]
CHILD_STOP_SECONDS = 120.0
STEP_LINE = re.compile(r"tagocheck capacity: step (\d+)")


class JobError(RuntimeError):
    """Something the user can fix; one line."""


@dataclass
class Job:
    config: FleetConfig
    plan: str
    steps: int
    """0: search for the capacity; N: a fixed ramp of N steps."""
    step_seconds: float
    users: int
    run_dir: Path
    target: str | None = None
    """None: the embedded target."""
    profile_token: str | None = None
    contract: bool = True
    processes: int = 0
    check_p99_ms: float = 500.0
    check_error_rate: float = 0.01
    integrity_devices: int = integrity.SAMPLE
    ssl_false: bool = False
    """Send _ssl=false with every request (contract suite and Locust alike)."""
    ca_cert: str | None = None
    """The CA to verify the target's TLS with (both parts)."""
    env: dict[str, str] = field(default_factory=dict)
    search_seconds: float = 120.0
    precision: float = 0.05

    def steps_seconds(self) -> float:
        """The longest the steps can take: a ramp's steps, or a search's budget and one more
        step with a rest before it (the last step may start just inside the budget)."""
        if self.steps:
            return self.steps * self.step_seconds
        return self.search_seconds + 2 * self.step_seconds


@dataclass
class Outcome:
    run_dir: Path
    report: Path | None
    interrupted: bool
    contract_failed: int = 0
    contract_verdict: dict[str, Any] = field(default_factory=dict)
    """The contract suite's one line (status, why), from its report."""
    error: str | None = None


def locustfile(scenario: str) -> Path:
    """loadtests/<scenario>.py of this checkout, or the copy an installed wheel carries."""
    for base in (ROOT / "loadtests", Path(__file__).resolve().parents[1] / "_loadtests"):
        if (base / f"{scenario}.py").exists():
            return base / f"{scenario}.py"
    raise JobError(f"loadtests/{scenario}.py is missing from this installation")


class Child:
    """A part of the job running as a process, its output lines read by a thread."""

    def __init__(
        self, command: list[str], env: dict[str, str], cwd: Path, *, takes_sigterm: bool = False
    ) -> None:
        self.takes_sigterm = takes_sigterm
        """Locust stops on SIGTERM as on SIGINT and names it; pytest only on SIGINT."""
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def each_line(self, timeout: float = 0.2):
        """Lines as they come, until the process ends."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                continue
            if line is None:
                self.process.wait()
                return
            self.output.append(line)
            yield line

    def interrupt(self, signal_name: str = "SIGINT") -> None:
        """The signal the job got (SIGINT to a child that takes only that), then wait; kill
        only if it does not stop."""
        sent = signal.SIGTERM if signal_name == "SIGTERM" and self.takes_sigterm else signal.SIGINT
        if self.process.poll() is None:
            self.process.send_signal(sent)
            try:
                self.process.wait(CHILD_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Runner:
    def __init__(self, job: Job, out: Console) -> None:
        self.job = job
        self.out = out
        self.target: RunningTarget | None = None
        self.state: Path | None = None
        """The embedded target's state (its database holds tokens): named before it is made,
        so an interruption at any instant still removes it."""
        self.child: Child | None = None
        self.contract_report = job.run_dir / "contract" / "contract-report.json"

    def run(self, preflight: Preflight) -> Outcome:
        job = self.job
        outcome = Outcome(job.run_dir, None, interrupted=False)
        columns = (
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
        )
        try:
            self._write_config(preflight)
            with Progress(*columns, console=self.out, transient=False) as progress:
                url, env = self._target(progress)
                if job.contract:
                    self._contract(progress, env, outcome)
                self._capacity(progress, url, env)
        except JobError as error:
            outcome.error = str(error)
        except KeyboardInterrupt as interruption:
            outcome.interrupted = True
            signal_name = str(interruption) or "SIGINT"  # cli.Terminated carries SIGTERM
            if self.child is not None:
                self.out.print(f"tagocheck: {signal_name}; stopping the part running ...")
                self._interrupt_child(signal_name)
            self._note_interrupted(signal_name)
        finally:
            self._stop_target()
        outcome.report = self._report()
        return outcome

    def _start(self, command: list[str], env: dict[str, str], takes_sigterm: bool = False) -> Child:
        """Start a part as self.child. A signal is held back until both are done: one mid-Popen,
        or before self.child is set, would leave the part running with nobody to stop it."""
        with signals_deferred(True):
            self.child = Child(command, env, ROOT, takes_sigterm=takes_sigterm)
        return self.child

    def _interrupt_child(self, signal_name: str) -> None:
        """The child stops and writes what it had; a second signal meanwhile does not leave it
        (or the target) running."""
        try:
            self.child.interrupt(signal_name)
        except KeyboardInterrupt:
            self.child.interrupt(signal_name)

    def _note_interrupted(self, signal_name: str) -> None:
        """A run the load part never summed up (interrupted in set-up or the contract suite)
        still ends as interrupted, not as a damaged run directory."""
        if not (self.job.run_dir / "summary.json").exists():
            ending = Ending(INTERRUPTED, "interrupted before the load run", signal_name)
            write_not_run(self.job.run_dir, "capacity", ending)

    def _write_config(self, preflight: Preflight) -> None:
        """What the job set out to do, first: an interrupted job's report has it even when the
        load run never started (Locust's own config.json replaces it when it does)."""
        job = self.job
        config = {
            "scenario": "capacity",
            "host": job.target or "embedded target",
            "embedded_target": job.target is None,
            "plan": job.plan,
            "devices": job.config.devices,
            "offered_reports_per_second": job.config.offered_rate,
            "started": time.time(),
            "preflight": [line.__dict__ for line in preflight.lines],
            "options": {
                **{
                    OPTIONS[flag].dest: getattr(job.config, OPTIONS[flag].dest)
                    for flag in FLEET_SHAPE
                },
                "interval": str(job.config.interval),
                "num_users": job.users,
                "steps": job.steps,
                "step_seconds": job.step_seconds,
            },
        }
        job.run_dir.mkdir(parents=True, exist_ok=True)
        (job.run_dir / "config.json").write_text(json.dumps(config, indent=2))

    # -- the parts ---------------------------------------------------------------------------

    def _target(self, progress: Progress) -> tuple[str, dict[str, str]]:
        job = self.job
        env = {**os.environ, **job.env, "PYTHONUNBUFFERED": "1"}
        if job.target:
            env["TAGOIO_API"] = job.target
            if job.profile_token:
                env["TAGOIO_PROFILE_TOKEN"] = job.profile_token
                env["LOCUST_PROFILE_TOKEN"] = job.profile_token
            # the network path's and the TagoTiP path's, when given
            for name in (
                "NETWORK_TOKEN",
                "AUTHORIZATION",
                "TAGOTIP_URL",
                "TAGOTIP_MQTT",
                "TAGOTIP_UDP",
                "TAGOTIP_TCP",
            ):
                if env.get(f"TAGOIO_{name}"):
                    env[f"LOCUST_{name}"] = env[f"TAGOIO_{name}"]
            return job.target, env
        task = progress.add_task(
            "embedded target", total=None, status=f"seeding {job.config.devices:,} devices"
        )
        self.state = Path(tempfile.gettempdir()) / f"tagocheck-capacity-{secrets.token_hex(6)}"
        self.state.mkdir(mode=0o700)
        try:
            self.target = start_target(
                self.state,
                "--plan",
                ratelimits.served_plan(job.plan),
                "--seed-devices",
                str(job.config.devices),
                *tagotip_binding(job.config.via),
                timeout=900,
                new_session=True,
            )
        except TargetFailedToStart as error:
            raise JobError(f"the embedded target did not start: {error}") from None
        info = self.target.info
        env.update(
            TAGOIO_API=self.target.url,
            TAGOIO_PROFILE_TOKEN=self.target.profile_token,
            TAGOIO_NETWORK_TOKEN=info["network_token"],
            TAGOIO_ANALYSIS_TOKEN=info["analysis_token"],
            TAGOIO_AUTHORIZATION=info["authorization"],
            LOCUST_NETWORK_TOKEN=info["network_token"],
            LOCUST_AUTHORIZATION=info["authorization"],
            TAGOIO_TAGOTIP_URL=info["tagotip_http_url"],
            LOCUST_TAGOTIP_URL=info["tagotip_http_url"],
        )
        sealed = job.config.tagotip_envelope != "none"  # UDP's TagoTiP/S port, then
        for binding, said in (
            ("mqtt", "mqtt"),
            ("udp", "udps" if sealed else "udp"),
            ("tcp", "tcp"),
        ):
            if info.get(f"tagotip_{said}"):
                address = info[f"tagotip_{said}"]
                env[f"TAGOIO_TAGOTIP_{binding.upper()}"] = address
                env[f"LOCUST_TAGOTIP_{binding.upper()}"] = address
        progress.update(
            task, total=1, completed=1, status=f"{self.target.url}, {job.config.devices:,} devices"
        )
        return self.target.url, env

    def _contract(self, progress: Progress, env: dict[str, str], outcome: Outcome) -> None:
        task = progress.add_task("contract suite", total=None, status="fast tests")
        if not (ROOT / "contract" / "conftest.py").exists():
            progress.update(task, total=1, completed=1, status="not in this installation: skipped")
            return
        self.contract_report.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pytest", "contract/", "-m", "not slow", "-q"]
        command += ["-p", "no:cacheprovider", "--plan", self.job.plan]
        command += ["--junitxml", str(self.contract_report.with_name("junit.xml"))]
        command += ["--contract-report", str(self.contract_report)]
        command += ["--ssl-false"] if self.job.ssl_false else []
        command += ["--ca-cert", self.job.ca_cert] if self.job.ca_cert else []
        child = self._start(command, env)
        passed = failed = 0
        for line in child.each_line():
            marks = line.split(" [")[0]
            if marks and set(marks) <= set(".FEsxX"):
                passed += marks.count(".")
                failed += marks.count("F") + marks.count("E")
                progress.update(task, status=f"{passed} passed, {failed} failed")
        self.child = None
        summary = next((ln for ln in reversed(child.output) if " in " in ln), "")
        outcome.contract_failed, outcome.contract_verdict = self._contract_results(
            failed, child.process.returncode
        )
        progress.update(task, total=1, completed=1, status=scrub(summary.strip("= ")) or "done")

    def _contract_results(
        self, failed_tests: int, returncode: int | None
    ) -> tuple[int, dict[str, Any]]:
        """From the suite's report: the findings that fail the run (its failed tests without a
        report) and its verdict (a suite that wrote none did not judge)."""
        try:
            found = compliance.read(self.contract_report)
        except compliance.ContractReportError:
            found = None
        violations = found.counts.get(VIOLATION, 0) if found is not None else failed_tests
        if found is not None and found.verdict:
            return violations, found.verdict
        why = f"the contract suite wrote no verdict (exit {returncode})"
        return violations, {"status": "not judged", "why": why}

    def _capacity(self, progress: Progress, url: str, env: dict[str, str]) -> None:
        job = self.job
        config = job.config
        task = progress.add_task(
            "capacity search" if not job.steps else "capacity steps",
            total=job.steps or None,
            status="starting Locust",
        )
        run_time = job.steps_seconds() + 60  # the scenario stops itself after the last step
        command = [sys.executable, "-m", "locust", "-f", str(locustfile("capacity"))]
        command += ["--headless", "--only-summary", "-u", str(job.users), "-r", str(job.users)]
        command += ["-t", f"{run_time:.0f}s", "--host", url, "--plan", job.plan]
        command += [*fleet_arguments(config), "--steps", str(job.steps)]
        command += ["--step-seconds", str(job.step_seconds), "--run-dir", str(job.run_dir)]
        command += ["--search-seconds", str(job.search_seconds)]
        command += ["--precision", str(job.precision)]
        command += ["--overwrite"]  # the job's own config.json and contract results are there
        command += ["--check-p99-ms", str(job.check_p99_ms)]
        command += ["--check-error-rate", str(job.check_error_rate)]
        command += ["--integrity-devices", str(job.integrity_devices)]
        command += ["--ssl-false"] if job.ssl_false else []
        command += ["--ca-cert", job.ca_cert] if job.ca_cert else []
        if job.processes:
            command += ["--processes", str(job.processes), *master_on_loopback()]
        if self.target is not None:
            command += ["--fleet-file", self.target.info["fleet_file"]]
        child = self._start(command, env, takes_sigterm=True)
        for line in child.each_line():
            stepped = STEP_LINE.search(line)
            if stepped:
                progress.update(task, completed=int(stepped[1]), status=line.split(": ", 2)[-1])
            elif line.startswith("tagocheck capacity: ") and "report:" not in line:
                progress.update(task, status=line.removeprefix("tagocheck capacity: ")[:90])
        self.child = None
        # Locust exits 1 when a threshold broke, but also when the run could not start: only a
        # run that wrote its summary went through
        if child.process.returncode != 0 and not (job.run_dir / "summary.json").exists():
            said = [ln for ln in child.output if ln.strip() and "Traceback" not in ln]
            last = scrub(said[-1].strip()) if said else f"exit {child.process.returncode}"
            progress.update(task, status="failed")
            raise JobError(f"the capacity run failed: {last}")
        self._note_embedded()
        progress.update(task, status="done")

    def _note_embedded(self) -> None:
        """Locust's config.json, written over the job's, sees a target at a URL: whether the job
        started it is the job's to say (the report names an embedded target as such)."""
        config_file = self.job.run_dir / "config.json"
        try:
            config = json.loads(config_file.read_text())
        except (OSError, ValueError):
            return
        if isinstance(config, dict):
            config["embedded_target"] = self.job.target is None
            config_file.write_text(json.dumps(config, indent=2))

    # -- the end -----------------------------------------------------------------------------

    def _stop_target(self) -> None:
        if self.target is not None:
            self.target.stop()
            self.target = None
        if self.state is not None:
            shutil.rmtree(self.state, ignore_errors=True)
            self.state = None

    def _report(self) -> Path | None:
        """The report, with the contract suite's findings: of the whole run, or of what an
        interrupted run had."""
        from tagocheck.report import ReportError, write_report

        if not any(self.job.run_dir.glob("*.json*")):
            return None
        contract = self.contract_report if self.contract_report.exists() else None
        try:
            return write_report(self.job.run_dir, contract=contract)
        except (ReportError, OSError) as error:
            self.out.print(f"tagocheck: no report written: {error}", markup=False)
            return None
