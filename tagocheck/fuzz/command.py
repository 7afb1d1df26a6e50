"""`tagocheck fuzz --spec FILE|URL`: Schemathesis (`st run`, a real client) with an OpenAPI file of
TagoIO's API, its known defects worked around and each said on a line, and every response judged
by tagocheck's envelope, result and permission checks (tagocheck.fuzz.checks) beside
Schemathesis' not_a_server_error (and, with --all-checks, every default check of Schemathesis).

Without --target it starts the embedded target and makes a device with a serial for the tokens.
Tokens come from the environment (TAGOIO_PROFILE_TOKEN, TAGOIO_DEVICE_TOKEN, TAGOIO_NETWORK_TOKEN,
TAGOIO_AUTHORIZATION, TAGOIO_SERIAL); they go to Schemathesis in a 0600 file in a private
directory removed at the end, and every line it prints is scrubbed of them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from argparse import Namespace
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tagocheck.fuzz.repair import repair
from tagocheck.fuzz.tokens import TOKEN_KINDS_ENV, token_fingerprint
from tagocheck.redact import scrub
from tagocheck.usage import UsageError

NEEDS_EXTRA = "tagocheck fuzz needs Schemathesis and PyYAML: pip install 'tagocheck[fuzz]'"
OUR_CHECKS = ("tagoio_envelope", "tagoio_result", "tagoio_permission", "not_a_server_error")
ST = Path(sys.executable).with_name("st")
# header name -> the token kind that scheme carries [C, facts section 1]
SCHEME_HEADERS = {
    "device-token": "device",
    "profile-token": "profile",
    "account-token": "profile",
    "token": "network",
}
# path and query parameters that name the device by its serial or carry the authorization key,
# in our OpenAPI file and TagoIO's
SERIAL_PARAMETERS = ("path.serial", "query.serial", "path.serieNumber")
AUTHORIZATION_PARAMETERS = (
    "path.authorization",
    "path.AuthorizationKey",
    "query.authorization_token",
)


def load_spec(source: str) -> dict[str, Any]:
    """The OpenAPI document at a path or an http(s) URL, as YAML or JSON; UsageError if not."""
    try:
        import yaml
    except ImportError:
        raise UsageError(NEEDS_EXTRA) from None
    try:
        if re.match(r"^https?://", source):
            with urllib.request.urlopen(source, timeout=30) as answer:
                text = answer.read().decode("utf-8")
        else:
            text = Path(source).read_text(encoding="utf-8")
    except (OSError, urllib.error.URLError, UnicodeDecodeError) as error:
        raise UsageError(f"--spec {source}: cannot read it ({error})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UsageError(
            f"--spec {source}: not YAML or JSON ({str(error).splitlines()[0]})"
        ) from None
    if not isinstance(document, dict) or "paths" not in document:
        raise UsageError(f"--spec {source}: not an OpenAPI document (no paths)")
    return document


def _tokens_from_environment() -> dict[str, str]:
    names = {
        "profile": "TAGOIO_PROFILE_TOKEN",
        "device": "TAGOIO_DEVICE_TOKEN",
        "network": "TAGOIO_NETWORK_TOKEN",
        "authorization": "TAGOIO_AUTHORIZATION",
        "serial": "TAGOIO_SERIAL",
    }
    return {key: os.environ[name] for key, name in names.items() if os.environ.get(name)}


def _embedded(stack: ExitStack, workdir: Path) -> tuple[str, dict[str, str]]:
    from tagocheck.server.launcher import start_target

    target = stack.enter_context(start_target(workdir / "target", "--plan", "unlimited"))
    info = target.info
    serial = "SN-TAGOCHECK-FUZZ"
    request = urllib.request.Request(
        f"{info['url']}/device",
        data=json.dumps({"name": "fuzz", "type": "mutable", "serie_number": serial}).encode(),
        headers={"Profile-Token": info["profile_token"], "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        made = json.loads(answer.read())["result"]
    return info["url"], {
        "profile": info["profile_token"],
        "device": made["token"],
        "network": info["network_token"],
        "authorization": info["authorization"],
        "serial": serial,
    }


def _toml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string


def schemathesis_config(
    document: dict[str, Any], url: str, tokens: dict[str, str], args: Namespace
) -> str:
    """The config file: base URL, seed and examples, a token for each scheme by its header,
    and the serial and authorization key where the spec's parameters take them."""
    lines = [f"base-url = {_toml(url)}"]
    if args.seed is not None:
        lines.append(f"seed = {args.seed}")
    lines += ["[generation]", f"max-examples = {args.max_examples}", "[parameters]"]
    for names, key in ((SERIAL_PARAMETERS, "serial"), (AUTHORIZATION_PARAMETERS, "authorization")):
        if key in tokens:
            lines += [f"{_toml(name)} = {_toml(tokens[key])}" for name in names]
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    for name, scheme in schemes.items():
        kind = SCHEME_HEADERS.get(str(scheme.get("name", "")).lower())
        if scheme.get("type") == "apiKey" and kind in tokens:
            lines += [f"[auth.openapi.{_toml(name)}]", f"api_key = {_toml(tokens[kind])}"]
    return "\n".join(lines) + "\n"


def token_kinds(tokens: dict[str, str]) -> str:
    """TAGOCHECK_TOKEN_KINDS for the checks: fingerprints, never tokens. The device token is
    taken as full (the embedded one is; give a full one with TAGOIO_DEVICE_TOKEN)."""
    kinds = {"profile": "profile", "device": "device-full", "network": "network"}
    return json.dumps({token_fingerprint(tokens[k]): v for k, v in kinds.items() if k in tokens})


def run_fuzz(args: Namespace) -> int:
    if not ST.exists():
        raise UsageError(NEEDS_EXTRA)
    document = load_spec(args.spec)
    fixed, defects = repair(document)
    for defect in defects:
        print(defect, flush=True)
    if not defects:
        print("spec defects: none of the known ones", flush=True)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tagocheck-fuzz-")))
        os.chmod(workdir, 0o700)
        if args.target:
            url, tokens = args.target.rstrip("/"), _tokens_from_environment()
        else:
            url, tokens = _embedded(stack, workdir)
        spec_file = workdir / "openapi.json"
        spec_file.write_text(json.dumps(fixed))
        config = workdir / "schemathesis.toml"
        config.touch(mode=0o600)
        config.write_text(schemathesis_config(fixed, url, tokens, args))
        command = [str(ST), "--config-file", str(config), "--no-color", "run", str(spec_file)]
        if not args.all_checks:
            command += ["--checks", ",".join(OUR_CHECKS)]
        if args.phases:
            command += ["--phases", args.phases]
        if args.max_failures:
            command += ["--max-failures", str(args.max_failures)]
        secrets = [v for v in tokens.values() if len(v) >= 8]
        return _stream(command, workdir, secrets, token_kinds(tokens))


def _stream(command: list[str], workdir: Path, secrets: list[str], kinds: str) -> int:
    """Run Schemathesis, printing its output scrubbed of every token; its exit status is ours
    (0: no failure, 1: failures)."""
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tagocheck.schemathesis_hooks",
        TOKEN_KINDS_ENV: kinds,
        "COLUMNS": "200",
    }
    process = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            for secret in secrets:
                line = line.replace(secret, "…")
            print(scrub(line), end="", flush=True)
    finally:
        if process.poll() is None:
            process.terminate()
        code = process.wait()
    return 1 if code else 0
