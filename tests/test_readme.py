"""The README's CI recipe, run as written from outside the clone: each command's exit status is
the one its comment says, on the embedded target."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ci_recipe() -> list[tuple[str, int | None]]:
    """The recipe's commands (continuation lines joined) with the exit status each comment
    promises (None: no promise)."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("**CI with thresholds and JUnit.**", 1)[1].split("```sh", 1)[1]
    block = block.split("```", 1)[0]
    commands, pending = [], ""
    for line in block.strip().splitlines():
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            command, _, comment = pending.partition("#")
            promised = re.match(r"\s*exit (\d)", comment)
            commands.append((command.strip(), int(promised.group(1)) if promised else None))
            pending = ""
    return commands


def test_the_ci_recipe_runs_as_written_from_outside_the_clone(tmp_path):
    recipe = ci_recipe()
    assert len(recipe) >= 4 and all(
        promised is not None for command, promised in recipe if not command.startswith("cp ")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAGOIO_", "LOCUST_"))}
    env["TAGOCHECK"] = str(ROOT)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
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
    assert not (tmp_path / ".hypothesis").exists()
