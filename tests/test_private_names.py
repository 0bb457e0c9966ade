"""Issue 40: no private name of a third-party package in the product. Every import of an underscored module or
name from a package that is not distill's, and every access of an underscored attribute that distill does not
define itself, must be on the short allow-list below, each entry with why and the versions it was checked on."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("distill", "problems", "grading", "agents", "corpus", "finetune", "evaluation", "study", "demo", "prompts", "viewer")
OURS = {"distill", *PRODUCT}

# (file, underscored name) -> why it is needed, and the versions it was checked on (pinned in pyproject.toml)
ALLOWED = {
    ("distill/io.py", "_sql"): "diskcache has no public one-pass scan of keys with their raw values; store_keys/store_get_many read "
                               "its Cache table through Cache._sql (diskcache 5.6.x; pinned <6; tests/test_disk_store.py tests the reach)",
    ("distill/io.py", "_disk"): "the same scan decodes keys and values with the cache's own Disk (Cache._disk), diskcache 5.6.x, pinned <6",
}


def files() -> list[Path]:
    return [p for d in PRODUCT for p in sorted((ROOT / d).rglob("*.py")) if "__pycache__" not in p.parts]


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def defined_here(trees: list[ast.AST]) -> set[str]:
    """Every underscored name distill itself defines: functions, classes, attributes, variables, parameters."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return {n for n in names if private(n)}


def reaches(extra: list[Path] = ()) -> list[tuple[str, str, int]]:
    parsed = [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in [*files(), *extra]]
    ours = defined_here([t for _, t in parsed])
    found = []
    for path, tree in parsed:
        rel = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    top = a.name.split(".")[0]
                    if top not in OURS and any(private(part) for part in a.name.split(".")):
                        found.append((rel, a.name, node.lineno))
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                top = node.module.split(".")[0]
                if top not in OURS:
                    if any(private(part) for part in node.module.split(".")):
                        found.append((rel, node.module, node.lineno))
                    found.extend((rel, a.name, node.lineno) for a in node.names if private(a.name))
            elif isinstance(node, ast.Attribute) and private(node.attr) and node.attr not in ours:
                found.append((rel, node.attr, node.lineno))
    return found


def test_no_private_name_of_a_third_party_package_outside_the_allow_list():
    bad = [(f, n, line) for f, n, line in reaches() if (f, n) not in ALLOWED]
    assert bad == [], bad
    assert len(ALLOWED) <= 4


def test_the_checker_catches_a_private_reach(tmp_path, monkeypatch):
    """The walk sees what it must refuse: a planted `from openai._base_client import x` and `client._post`."""
    planted = tmp_path / "planted.py"
    planted.write_text("from openai._base_client import make_request_options\n\ndef f(client):\n    return client._post\n")
    names = {(f, n) for f, n, _ in reaches([planted])}
    assert ("planted.py", "openai._base_client") in names and ("planted.py", "_post") in names
