"""What an `ape run` entry point in scripts/ does before ape connects: the project's tools on PATH and
ape quiet (a provider's INFO lines, "Connecting to existing 'Hardhat node' process.", are noise to a
user; a command's -v turns ape's INFO lines back on)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gridmint import deployments

from .options import quiet


def prepare() -> None:
    # `.venv/bin/ape run ...` without an activated venv: ape-vyper finds the pinned compiler (the pip
    # package `vyper`) through PATH, so the interpreter's own bin directory goes first; ape-foundry finds
    # Anvil (npm `@foundry-rs/anvil`, installed by `make setup`) the same way
    for directory in (str(deployments.ROOT / "node_modules" / ".bin"), str(Path(sys.executable).parent)):
        if Path(directory).is_dir() and directory not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = directory + os.pathsep + os.environ.get("PATH", "")
    quiet()
