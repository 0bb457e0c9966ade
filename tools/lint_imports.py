"""Check the one-way import contracts in `.importlinter` with import-linter.

The stage folders (agents/, corpus/, ...) install as `distill.<stage>` through setuptools'
package-dir mapping, which import-linter cannot see from an editable install. So this lays the
sources out as they are installed, in a temporary folder, and lints that copy.
Usage: python tools/lint_imports.py [--root DIR]   (exit code: import-linter's)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def lay_out(root: Path, dest: Path) -> Path:
    """Copy each mapped package folder to its installed place under `dest`; return dest."""
    mapping = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for package, folder in sorted(mapping.items(), key=lambda kv: kv[0].count(".")):
        target = dest.joinpath(*package.split("."))
        shutil.copytree(root / folder, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.json", "*.md"))
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=REPO, help="repository to check (default: this one)")
    args = ap.parse_args(argv)
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if lint is None:
        print("lint-imports not found: pip install import-linter", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="distill-lint-") as tmp:
        lay_out(args.root, Path(tmp))
        shutil.copy(args.root / ".importlinter", Path(tmp) / ".importlinter")  # found in the working folder by every version
        env = {**os.environ, "PYTHONPATH": tmp}
        cmd = [lint, "--no-cache"]
        return subprocess.run(cmd, cwd=tmp, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
