"""The contract suite's target, client, throwaway fleet and findings.

With neither --target nor TAGOIO_API, a session fixture starts the embedded target on a free port
(starter plan, 2-second rate windows) and stops it at the end. Against any other target it needs a
profile token and a plan, creates what it needs under the name prefix `tagocheck-<run id>-`, says
up front how much it will create, deletes it all at the end (also when tests fail or the run is
interrupted), and sweeps leftovers of earlier runs that are more than a day old.

Every response is judged by the registry of checks into findings (tagocheck.judge.findings). A
test is about some routes (its subjects: the route it is parametrized by, a `subjects` marker, or
the module's SUBJECTS); a finding on a subject at failing severity fails the test, a finding on any
other route is recorded and the test goes on. The run ends with a findings table, one row per
distinct finding, and its exit status follows the findings: 1 with any violation (or, under
--strict, any deviation), whatever the tests did.
"""

from __future__ import annotations

import math
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import confirm
import exploration
import outcome
import pytest
from fleet_setup import (
    PREFIX,
    Blocked,
    Device,
    Fleet,
    delete_run_devices,
    expired_token,
    sweep,
)
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.stateful import RuleBasedStateMachine

from tagocheck.judge.findings import OBSERVATION, VIOLATION, label_of
from tagocheck.judge.recorder import Recorder
from tagocheck.server.launcher import start_target
from tagocheck.spec.ratelimits import rate_limits
from tagocheck.wire import reach
from tagocheck.wire.client import TagoClient

# Hypothesis keeps its examples and caches in a cache directory, not in whichever directory the
# suite is run from (it would make .hypothesis/ there).
set_hypothesis_home_dir(
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tagocheck" / "hypothesis"
)
_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXAMPLE_COUNTS = {"ci": 25, "thorough": 300}
for _name, _count in EXAMPLE_COUNTS.items():
    settings.register_profile(_name, max_examples=_count, **_common)
settings.load_profile(os.environ.get("TAGOCHECK_HYPOTHESIS_PROFILE", "ci"))

EMBEDDED_WINDOW = 2.0
EMBEDDED_PLAN = "starter"
NO_PLAN = "none"
PLANS = (*rate_limits().plans, NO_PLAN)
DEVICES_PLANNED = 3  # two fleet devices and one scratch device at a time
TOKENS_PLANNED = 6
# Data-input transactions (one per variable sent) with the ci profile: ingest properties about
# 25 x 5, documented limits about 60 x 2, stateful queries about 8 x 12 x 4, permission and
# route probes about 30. The thorough profile takes roughly ten times as many.
DATA_INPUT_PLANNED = {"ci": 700, "thorough": 7000}


INTERRUPTS: list[int] = []
CONFIG: list[pytest.Config] = []
RECORDER = Recorder()
TALLY = outcome.Tally()
VERDICT: list[outcome.Verdict] = []


@dataclass
class Exploration:
    """This run's seed and where its examples are kept (contract/exploration.py)."""

    seed: int = 0
    given: bool = False
    """The seed came from --contract-seed: a repeatable run, no example kept or replayed."""
    examples: Path | None = None


EXPLORATION = Exploration()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "subjects(*routes): the routes a test checks (findings elsewhere do not fail it)"
    )
    CONFIG[:] = [config]
    RECORDER.strict = bool(config.getoption("--strict-contract", False))
    _check_options(config)
    _explore(config)

    # SIGTERM (a CI job cancelled, a container stopped) ends the run like Ctrl-C, and both are
    # remembered: hypothesis swallows a KeyboardInterrupt raised inside a property or state
    # machine, so the run is stopped again after the test (pytest_runtest_call below).
    def interrupt(signum: int, frame: Any) -> None:
        INTERRUPTS.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def _check_options(config: pytest.Config) -> None:
    """Our options' values, checked before anything starts (exit 2, one line, like every entry
    point; argparse's own refusal would be pytest's usage error, exit 4)."""
    option = config.getoption
    plan = option("--plan", None)
    if plan is not None and plan not in PLANS:
        unusable(f"--plan {plan!r}: one of {', '.join(PLANS)}")
    for flag, dest in (
        ("--rate-window", "rate_window"),
        ("--latency-budget-ms", "latency_budget_ms"),
    ):
        text = option(flag, None)
        if text is None:
            continue
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not 0 < value < 1e9:  # nan and inf too
            unusable(f"{flag} {text!r}: a finite number above 0")
        setattr(config.option, dest, value)
    ca = option("--ca-cert", None)
    if ca and not Path(ca).is_file():
        unusable(f"--ca-cert {ca}: no such file")
    url = option("--target", None)
    if url:
        try:
            reach.check_url(url)
        except reach.Unreachable as error:
            unusable(str(error))


def _explore(config: pytest.Config) -> None:
    """The seed of this run's inputs and the target's own example folder, as the settings
    profile every property and state machine is then built with."""
    option = config.getoption
    try:
        seed = exploration.parse_seed(option("--contract-seed", None))
    except ValueError:
        unusable(
            f"--contract-seed {option('--contract-seed')!r}: a whole number from 0 to "
            f"{exploration.SEED_LIMIT - 1}"
        )
    EXPLORATION.given = seed is not None
    EXPLORATION.seed = exploration.draw_seed() if seed is None else seed
    if not EXPLORATION.given:
        root = option("--contract-examples", None)
        root = Path(root) if root else report_path(config).parent / "contract-examples"
        EXPLORATION.examples = exploration.examples_folder(
            root, option("--target", None), option("--plan", None) or EMBEDDED_PLAN
        )
    profile = config.getoption("hypothesis_profile", None) or os.environ.get(
        "TAGOCHECK_HYPOTHESIS_PROFILE", "ci"
    )
    settings.register_profile(
        "tagocheck-run",
        max_examples=EXAMPLE_COUNTS.get(profile, EXAMPLE_COUNTS["ci"]),
        database=exploration.database(EXPLORATION.examples),
        **_common,
    )
    settings.load_profile("tagocheck-run")
    RECORDER.exploration = {
        "seed": EXPLORATION.seed,
        "seed_given": EXPLORATION.given,
        "examples": str(EXPLORATION.examples) if EXPLORATION.examples else None,
    }


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every property and state machine draws its inputs from the run's seed; a protocol the
    user did not point us at is not asked (said in the report and the summary), rather than
    counted as judged or as a family skipped whole."""
    if config.getoption("--target", None) and not config.getoption("--tagotip-url", None):
        asked = [i for i in items if outcome.family_of(i.nodeid) != "tagotip"]
        if len(asked) < len(items):
            config.hook.pytest_deselected(items=[i for i in items if i not in asked])
            items[:] = asked
            RECORDER.not_asked.append("TagoTiP: no --tagotip-url was given")
    modules = {item.module for item in items if getattr(item, "module", None) is not None}
    for module in modules:
        for thing in vars(module).values():
            if isinstance(thing, type) and issubclass(thing, RuleBasedStateMachine):
                exploration.seed_test(thing, EXPLORATION.seed)
    for item in items:
        test = getattr(item, "obj", None)
        if getattr(test, "is_hypothesis_test", False):
            exploration.seed_test(test, EXPLORATION.seed)


def rule_of(item: pytest.Item) -> str:
    """The rule a test holds the target to, with its source label: the test's docstring (one
    line per paragraph; tests/test_contract_labels.py checks that every test has one). A failure
    the test did not turn into a finding itself rests on the first label: the main rule."""
    doc = getattr(getattr(item, "function", None), "__doc__", None) or item.name
    return "\n".join(" ".join(p.split()) for p in doc.strip().split("\n\n"))


def report_path(config: pytest.Config) -> Path:
    """contract-report.json: as given, else beside --junitxml, else reports/ here."""
    path = config.getoption("--contract-report", None)
    if path is not None:
        return Path(path)
    junit = getattr(config.option, "xmlpath", None)
    return (
        Path(junit).parent / "contract-report.json"
        if junit
        else Path("reports/contract-report.json")
    )


def subjects_of(item: pytest.Item) -> tuple[str, ...] | None:
    """The routes a test checks; None: every route it calls."""
    marker = item.get_closest_marker("subjects")
    if marker is not None:
        return tuple(marker.args)
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "route_id" in params:
        return (params["route_id"],)
    if "cell" in params:
        return (params["cell"].route,)
    return getattr(getattr(item, "module", None), "SUBJECTS", None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    RECORDER.begin(f"{item.nodeid} (set-up)", ())
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    RECORDER.begin(item.nodeid, subjects_of(item))
    try:
        return (yield)
    finally:
        if INTERRUPTS:
            pytest.exit("interrupted: the fleet is being deleted", returncode=2)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    RECORDER.begin(f"{item.nodeid} (clean-up)", ())
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failing test carries its finding: the answer's, or one made of the test's own check
    (a round trip that did not hold). A test whose set-up was blocked is skipped, naming why."""
    report = yield
    if not report.failed or call.excinfo is None:
        return report
    error = call.excinfo.value
    if isinstance(error, Blocked):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {error}")
        return report
    if report.when != "call":
        return report
    found = getattr(error, "findings", None)
    if not found:
        subjects = subjects_of(item) or ("(suite)",)
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        if not isinstance(error, AssertionError | pytest.fail.Exception):
            first = f"the suite could not read the answer ({type(error).__name__}: {first})"
        rule = rule_of(item)
        found = [
            RECORDER.find(
                subjects[0],
                getattr(item, "originalname", item.name),
                VIOLATION,
                where=getattr(getattr(item, "callspec", None), "id", "-"),
                expected=rule.splitlines()[0] if label_of(rule.splitlines()[0]) else rule,
                observed=first,
                label=label_of(rule, first=True),
            )
        ]
    if not RECORDER.failing(found):
        # What the test found rests on a rule no source states, or on a form the docs only
        # show: listed in the findings, not a failure of the test nor of the run.
        report.outcome = "passed"
        report.longrepr = None
        return report
    crash = getattr(report.longrepr, "reprcrash", None)
    named = ", ".join(f"{f.id} ({f.severity} [{f.label}]) {f.route}: {f.check}" for f in found)
    if crash is not None:
        crash.message = f"{named}: {crash.message}"
    return report


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tagocheck", "TagoIO contract suite")
    group.addoption(
        "--target",
        default=os.environ.get("TAGOIO_API"),
        help="base URL of the target (default $TAGOIO_API; none: the embedded target)",
    )
    group.addoption(
        "--profile-token",
        default=os.environ.get("TAGOIO_PROFILE_TOKEN"),
        help="profile token (default $TAGOIO_PROFILE_TOKEN)",
    )
    group.addoption(
        "--network-token",
        default=os.environ.get("TAGOIO_NETWORK_TOKEN"),
        help="network token for the integration routes ($TAGOIO_NETWORK_TOKEN)",
    )
    group.addoption(
        "--authorization",
        default=os.environ.get("TAGOIO_AUTHORIZATION"),
        help="the profile's authorization key (Integrations > Authorization) for the network "
        "routes that name one ($TAGOIO_AUTHORIZATION)",
    )
    group.addoption(
        "--tagotip-url",
        default=os.environ.get("TAGOIO_TAGOTIP_URL"),
        help="base URL of the target's TagoTiP HTTP binding (/v1/tip/...); none: TagoTiP is "
        "not judged, except on the embedded target ($TAGOIO_TAGOTIP_URL)",
    )
    group.addoption(
        "--tagotip-mqtt",
        default=os.environ.get("TAGOIO_TAGOTIP_MQTT"),
        help="HOST:PORT of the target's TagoTiP MQTT binding; none: its connection rules are not "
        "judged, except on the embedded target ($TAGOIO_TAGOTIP_MQTT)",
    )
    group.addoption(
        "--tagotip-udp",
        default=os.environ.get("TAGOIO_TAGOTIP_UDP"),
        help="HOST:PORT of the target's TagoTiP UDP endpoint; none: TagoTiP over UDP is not "
        "judged, except on the embedded target ($TAGOIO_TAGOTIP_UDP)",
    )
    group.addoption(
        "--tagotip-tcp",
        default=os.environ.get("TAGOIO_TAGOTIP_TCP"),
        help="HOST:PORT of the target's TagoTiP TCP endpoint; none: TagoTiP over TCP is not "
        "judged, except on the embedded target ($TAGOIO_TAGOTIP_TCP)",
    )
    group.addoption(
        "--analysis-token",
        default=os.environ.get("TAGOIO_ANALYSIS_TOKEN"),
        help="analysis token with no policy ($TAGOIO_ANALYSIS_TOKEN)",
    )
    group.addoption(
        "--plan",
        default=None,
        help="the account's plan: its device cap and rate limits are expected (required with "
        f"--target; {NO_PLAN}: a self-hosted or unknown plan, no cap, limits only observed; "
        f"embedded default {EMBEDDED_PLAN})",
    )
    group.addoption(
        "--strict-contract",
        action="store_true",
        help="deviations (forms the docs only show by example) fail the run, as violations do",
    )
    group.addoption(
        "--ssl-false",
        action="store_true",
        help="send _ssl=false with every request: what TagoIO asks of plain-HTTP clients",
    )
    group.addoption("--ca-cert", default=None, help="CA bundle to verify the target's TLS with")
    group.addoption("--insecure", action="store_true", help="do not verify TLS certificates")
    group.addoption(
        "--rate-window",
        default=None,
        help="rate-limit window in seconds (default: the target's, 60 for the cloud)",
    )
    group.addoption(
        "--latency-budget-ms",
        default=None,
        help="p95 latency a simple request must stay under (100 embedded, 1000 other)",
    )
    group.addoption(
        "--no-confirm",
        action="store_true",
        help="do not run the tests behind failing findings again against the reference target "
        "(the embedded one) before blaming the target",
    )
    group.addoption(
        "--contract-seed",
        default=None,
        help="draw the generated inputs from this seed (0 to 2**32-1): the same target and seed "
        "give the same verdict; no kept example is replayed (default: a new seed, printed)",
    )
    group.addoption(
        "--contract-examples",
        default=None,
        help="where failing examples are kept, one folder per target and suite version "
        "(default: contract-examples/ beside the contract report)",
    )
    group.addoption(
        "--contract-report",
        default=None,
        help="where to write contract-report.json (default: beside --junitxml, "
        "else reports/contract-report.json)",
    )


@dataclass
class Target:
    url: str
    profile_token: str = field(repr=False)
    plan: str
    window: float
    verify: bool | str
    embedded: bool
    latency_budget_ms: float
    network_token: str | None = field(default=None, repr=False)
    analysis_token: str | None = field(default=None, repr=False)
    authorization: str | None = field(default=None, repr=False)
    ssl_false: bool = False
    info: dict[str, Any] = field(default_factory=dict, repr=False)
    tagotip_url: str | None = None
    tagotip_mqtt: str | None = None
    tagotip_udp: str | None = None
    tagotip_tcp: str | None = None

    def __repr__(self) -> str:
        return f"Target(url={self.url!r}, plan={self.plan!r}, window={self.window:g})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis prints fixtures of a failing example with this; tokens stay out of it."""
        printer.text(repr(self))

    @property
    def has_plan(self) -> bool:
        return self.plan != NO_PLAN


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    option = request.config.getoption
    verify: bool | str = option("--ca-cert") or not option("--insecure")
    if option("--target"):
        if not option("--profile-token"):
            unusable("--target needs --profile-token (or TAGOIO_PROFILE_TOKEN)")
        if not option("--plan"):
            unusable(
                f"--target needs --plan ({', '.join(PLANS)}; {NO_PLAN} for a self-hosted server)"
            )
        found = Target(
            url=option("--target").rstrip("/"),
            profile_token=option("--profile-token"),
            plan=option("--plan"),
            window=option("--rate-window") or 60.0,
            verify=verify,
            embedded=False,
            latency_budget_ms=option("--latency-budget-ms") or 1000.0,
            network_token=option("--network-token"),
            analysis_token=option("--analysis-token"),
            authorization=option("--authorization"),
            ssl_false=option("--ssl-false"),
            tagotip_url=option("--tagotip-url"),
            tagotip_mqtt=option("--tagotip-mqtt"),
            tagotip_udp=option("--tagotip-udp"),
            tagotip_tcp=option("--tagotip-tcp"),
        )
        RECORDER.target = {"url": found.url, "plan": found.plan, "embedded": False}
        _preflight(found)
        yield found
        return
    with tempfile.TemporaryDirectory(prefix="tagocheck-contract-") as state:
        plan = option("--plan") or EMBEDDED_PLAN
        window = option("--rate-window") or EMBEDDED_WINDOW
        served_plan = plan if plan != NO_PLAN else "unlimited"  # the embedded target's no-plan
        running = start_target(
            Path(state),
            "--plan",
            served_plan,
            "--rate-window-seconds",
            str(window),
            "--tagotip-mqtt-port",
            "0",
            "--tagotip-udp-port",
            "0",
            "--tagotip-tcp-port",
            "0",
        )
        try:
            info = running.info
            RECORDER.target = {"url": info["url"], "plan": plan, "embedded": True}
            yield Target(
                url=info["url"],
                profile_token=info["profile_token"],
                plan=plan,
                window=window,
                verify=verify,
                embedded=True,
                latency_budget_ms=option("--latency-budget-ms") or 100.0,
                network_token=info.get("network_token"),
                analysis_token=info.get("analysis_token"),
                authorization=info.get("authorization"),
                ssl_false=option("--ssl-false"),
                info=info,
                tagotip_url=option("--tagotip-url") or info.get("tagotip_http_url"),
                tagotip_mqtt=option("--tagotip-mqtt") or info.get("tagotip_mqtt"),
                tagotip_udp=option("--tagotip-udp") or info.get("tagotip_udp"),
                tagotip_tcp=option("--tagotip-tcp") or info.get("tagotip_tcp"),
            )
        finally:
            running.stop()


def _preflight(target: Target) -> None:
    """Stop at once, in one line, when the target cannot be used: unreachable, not TagoIO, or the
    profile token refused (tagocheck.wire.reach, as every entry point asks it)."""
    try:
        reach.probe(
            target.url,
            target.profile_token,
            verify=target.verify,
            ssl_false=target.ssl_false,
            say=lambda line: print(f"tagocheck: {line}", file=sys.stderr, flush=True),
        )
    except reach.Unreachable as error:
        unusable(str(error).replace("give --ca-cert", "pass --ca-cert (or --insecure)"))


def unusable(message: str) -> NoReturn:
    """Bad input or an unusable target: one line and exit status 2, as from every entry point
    (pytest's own exit would print a banner around it on stdout)."""
    capture = CONFIG[0].pluginmanager.getplugin("capturemanager") if CONFIG else None
    if capture is not None:  # the fixture's output is captured: this line must get out
        capture.suspend_global_capture(in_=True)
    print(f"pytest contract/: {message}", file=sys.stderr, flush=True)
    os._exit(2)  # nothing has started yet: no fixture to tear down, no report to write


@pytest.fixture(scope="session")
def client(target: Target) -> TagoClient:
    return TagoClient(
        target.url, verify=target.verify, recorder=RECORDER, ssl_false=target.ssl_false
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    TALLY.select([item.nodeid for item in session.items])


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    reason = report.longrepr[2] if report.skipped and isinstance(report.longrepr, tuple) else ""
    TALLY.record(report.nodeid, report.when, report.outcome, str(reason))


# pytest's own statuses a verdict does not replace: interrupted, internal error, usage error
PYTEST_OWN = (
    pytest.ExitCode.INTERRUPTED,
    pytest.ExitCode.INTERNAL_ERROR,
    pytest.ExitCode.USAGE_ERROR,
)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Confirm the failing findings against the reference, decide the run's verdict, write the
    contract report and give the run the verdict's exit status (contract/outcome.py)."""
    config = session.config
    if config.option.collectonly:
        return  # nothing was meant to run: no verdict to give
    if session.exitstatus in PYTEST_OWN:
        if RECORDER.routes or len(RECORDER.findings):
            RECORDER.write(report_path(config))
        return
    failing = RECORDER.findings.failing(RECORDER.strict)
    confirmation = _confirm(config, failing)
    verdict = outcome.decide(
        TALLY, len(confirmation.confirmed), TALLY.totals()["failed"], len(confirmation.suite_errors)
    )
    VERDICT[:] = [verdict]
    RECORDER.verdict = {
        **verdict.as_dict(),
        "confirmation": confirmation.said,
        "suite_errors": [f.id for f in confirmation.suite_errors],
    }
    path = report_path(config)
    RECORDER.write(path)
    session.exitstatus = verdict.exit_status
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.ensure_newline()  # after the progress line's [100%]
        _findings_table(reporter)
        if failing:
            reporter.write_line(f"tagocheck: {confirmation.said}")
        _suite_errors(reporter, confirmation.suite_errors)
        reporter.write_line(
            f"tagocheck: {RECORDER.acknowledged_posts:,} data posts acknowledged, "
            f"{RECORDER.records_added:,} records counted in the documented words "
            f'("N Data Added"); findings and drift written to {path}'
        )
        reporter.write_line(_exploration_line())
        for what in RECORDER.not_asked:
            reporter.write_line(f"tagocheck: not asked, so not judged: {what}")
        colour = {"green": verdict.status == outcome.HOLDS, "red": verdict.status != outcome.HOLDS}
        reporter.write_sep("=", verdict.line(), bold=True, **colour)


def _confirm(config: pytest.Config, failing: list) -> confirm.Confirmation:
    """The failing findings split into the target's and the suite's (contract/confirm.py)."""
    if not failing or os.environ.get(confirm.REFERENCE_RUN):
        return confirm.Confirmation([], failing, "")
    if not config.getoption("--target", None):
        return confirm.on_reference(failing)
    if config.getoption("--no-confirm", False):
        return confirm.Confirmation(
            [], failing, "not confirmed against the reference (--no-confirm)"
        )
    return confirm.against_reference(
        failing,
        rootdir=config.rootpath,
        plan=config.getoption("--plan", None) or EMBEDDED_PLAN,
        seed=EXPLORATION.seed,
        strict=RECORDER.strict,
    )


def _suite_errors(reporter: Any, found: list) -> None:
    """Loudly: these are the suite's mistakes, not the target's."""
    if not found:
        return
    reporter.write_sep("=", f"tagocheck SUITE ERROR: {len(found)} not the target's fault", red=True)
    for finding in found:
        reporter.write_line(f"{finding.id:>4} {finding.line()}")
        if finding.reproduction:
            reporter.write_line(f"     reproduce: {finding.reproduction[:300]}")
    reporter.write_line(
        "     The reference target answers the same way: the suite's check is wrong there. "
        "Report it with the lines above."
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    """A run that judged nothing or erred is red in JUnit too: one testcase says why."""
    junit = getattr(config.option, "xmlpath", None)
    if VERDICT and junit and VERDICT[0].status in (outcome.NOT_JUDGED, outcome.SUITE_ERROR):
        outcome.mark_junit(Path(junit), VERDICT[0])


def _exploration_line() -> str:
    seed = EXPLORATION.seed
    if EXPLORATION.given:
        return f"tagocheck: inputs drawn from --contract-seed {seed}; no kept example replayed"
    return (
        f"tagocheck: inputs drawn from seed {seed} (--contract-seed {seed} draws them again), "
        f"after this target's kept examples in {EXPLORATION.examples}"
    )


def _findings_table(reporter: Any) -> None:
    """One row per distinct finding, most serious first, as Schemathesis groups failures."""
    reporter.write_line("")
    counts = RECORDER.findings.counts()
    if not len(RECORDER.findings):
        reporter.write_sep("=", "tagocheck findings: none", green=True)
        return
    summary = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items())
    failing = bool(RECORDER.findings.failing(RECORDER.strict))
    reporter.write_sep("=", f"tagocheck findings: {summary}", red=failing, yellow=not failing)
    for finding in RECORDER.findings:
        tests = len(finding.tests)
        reporter.write_line(
            f"{finding.id:>4} {finding.severity:<11} {'[' + finding.label + ']':<7} "
            f"{finding.route:<34} "
            f"{finding.check} at {finding.where}  "
            f"[{finding.count} answer{'s' if finding.count != 1 else ''}, "
            f"{tests} test{'s' if tests != 1 else ''}]"
        )
        reporter.write_line(f"     {finding.observed[:160]}")
        if finding.reproduction:
            reporter.write_line(f"     reproduce: {finding.reproduction[:300]}")


# -- the throwaway fleet


class _Announcer:
    """Writes a line to the terminal now, past pytest's output capturing."""

    def __init__(self, config: pytest.Config) -> None:
        self.reporter = config.pluginmanager.get_plugin("terminalreporter")
        self.capture = config.pluginmanager.get_plugin("capturemanager")

    def __bool__(self) -> bool:
        return self.reporter is not None

    def write_line(self, line: str) -> None:
        if self.reporter is None:
            return
        if self.capture is not None:
            with self.capture.global_and_fixture_disabled():
                self.reporter.write_line(line)
        else:
            self.reporter.write_line(line)


@pytest.fixture(scope="session")
def fleet(client: TagoClient, target: Target, request: pytest.FixtureRequest) -> Iterator[Fleet]:
    reporter = _Announcer(request.config)
    prefix = f"{PREFIX}{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(2)}-"
    placeholder = Device("", "", "")
    made = Fleet(client, target, prefix, placeholder, placeholder)
    cap = rate_limits().device_caps.get(target.plan) if target.has_plan else None
    if cap is not None:
        try:
            existing = made.devices_named("*", amount=10000)
        except Blocked:
            existing = None
        if existing is None:
            RECORDER.find(
                "GET /device",
                "device cap not checked",
                OBSERVATION,
                expected=f"the {target.plan} plan allows {cap} devices [C]",
                observed="the profile's devices could not be listed; the cap was not checked",
            )
        elif len(existing) + DEVICES_PLANNED > cap:
            pytest.exit(
                f"the {target.plan} plan allows {cap} devices; the profile has {len(existing)} "
                f"and the suite needs {DEVICES_PLANNED} more",
                returncode=2,
            )
    profile = os.environ.get("TAGOCHECK_HYPOTHESIS_PROFILE", "ci")
    if reporter:
        reporter.write_line(
            f"tagocheck: will create up to {DEVICES_PLANNED} devices at a time and about "
            f"{TOKENS_PLANNED} tokens named {prefix}*, deleted at the end, and send about "
            f"{DATA_INPUT_PLANNED.get(profile, 7000):,} data-input transactions; plan "
            f"{target.plan}, rate window {target.window:g} s"
        )
    try:
        swept = sweep(made)
        if swept and reporter:
            reporter.write_line(f"tagocheck: swept {swept} leftover devices of earlier runs")
        try:
            made.a = made.device("a")
            made.b = made.device("b")
            for permission in ("write", "read"):
                made.a.tokens[f"device-{permission}"] = made.token(made.a, permission)
            made.a.tokens["device-expired"] = expired_token(made)
            doomed = made.token(made.a, "full")
            if made.profile("DELETE", f"/device/token/{doomed}").verdict.succeeded:
                made.a.tokens["token-deleted"] = doomed  # else its cells are not judged
        except Blocked as error:
            pytest.skip(str(error))
        yield made
    finally:
        left = delete_run_devices(made)
        if left:
            finding = RECORDER.find(
                "DELETE /device/{id}",
                "clean-up",
                VIOLATION,
                expected="a deleted device is gone from the profile's listing [C]",
                observed=f"{len(left)} devices of this run are still listed after deletion",
            )
            reporter.write_line(
                f"tagocheck: {finding.id}: {len(left)} devices named {prefix}* could not be "
                "deleted; delete them by hand"
            )
