"""The layers of docs/architecture.md hold: import-linter's contracts pass, and no module of
``dutydesk/`` sits outside a layer (a new shell module must be named in pyproject.toml)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def layer_modules() -> set[str]:
    [layers] = [c for c in contracts() if c["id"] == "layers"]
    return {m for layer in layers["layers"] for m in re.split(r"[|:\s]+", layer) if m}


def test_every_module_of_the_dutydesk_package_is_in_a_layer() -> None:
    package = ROOT / "dutydesk"
    top_level = {
        f"dutydesk.{p.stem}" for p in package.glob("*.py") if p.stem not in ("__init__", "__main__")
    } | {f"dutydesk.{p.name}" for p in package.iterdir() if (p / "__init__.py").is_file()}
    assert top_level - layer_modules() == set(), "name the new modules in pyproject's layers"


def test_the_import_contracts_are_kept() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
