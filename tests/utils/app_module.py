"""Runs a module of the member app (app/src/<name>.ts) under node, as the app's own rolldown bundles it, so
a test can hold the TypeScript to its Python twin: `run_app_module(tmp_path, "market", RUNNER, payload)`.
RUNNER is the body of an async function: `await import(process.argv[1])` gives the module, the payload
(JSON) is on stdin, and what it prints to stdout (JSON) is returned."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_app_module(tmp_path: Path, module: str, runner: str, payload: object) -> object:
    rolldown = ROOT / "app" / "node_modules" / ".bin" / "rolldown"
    assert rolldown.exists(), "app/node_modules is not installed: run `make app-build`"
    bundle = tmp_path / f"{module}.mjs"
    subprocess.run([str(rolldown), f"src/{module}.ts", "--format", "esm", "--file", str(bundle)], cwd=ROOT / "app",
                   check=True, capture_output=True)
    run = subprocess.run(["node", "--input-type=commonjs", "-e", f"(async () => {{ {runner} }})()", str(bundle)],
                         input=json.dumps(payload), capture_output=True, text=True, check=True)
    return json.loads(run.stdout)
