"""Prompt templates: editable files with declared variables, loaded by name, hashed by content.

A template file starts with a front-matter block naming its variables, then the text with
`{{ name }}` placeholders (double braces, so LaTeX braces need no escaping):

    ---
    variables: [problem, answer]
    ---
    Solve: {{ problem }}

Other front-matter lines declare constants (`target_words: 115`): a placeholder may name one, and
code reads them from `Template.meta`, so a value stated in a template's prose has one source.

`--prompts DIR` (or `prompts_dir` in distill.toml) points at a folder whose files override the
bundled ones of the same name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from distill.errors import DistillError
from distill.io import content_hash

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    variables: tuple[str, ...]
    path: str
    sha256: str  # of the whole file: any edit changes it, and with it every cache key that used it
    meta: dict[str, int | str] = field(default_factory=dict)  # declared constants (front matter)

    def render(self, **values: object) -> str:
        missing = [v for v in self.variables if v not in values]
        if missing:
            raise DistillError(f"template {self.name!r} needs {', '.join(missing)}; got {', '.join(sorted(values)) or 'nothing'}", path=self.path)
        merged = {**self.meta, **values}
        return PLACEHOLDER.sub(lambda m: str(merged[m.group(1)]), self.text)

    def number(self, key: str) -> int | None:
        """A declared integer constant, e.g. a level template's `target_words`."""
        value = self.meta.get(key)
        return value if isinstance(value, int) else None


def bundled_dir() -> Path:
    return Path(str(resources.files("distill.prompts")))


def parse_template(name: str, raw: str, path: str) -> Template:
    m = FRONT.match(raw)
    if not m:
        raise DistillError("template must start with a --- front matter block declaring `variables: [...]`", path=path)
    header, body = m.group(1), raw[m.end() :]
    vm = re.search(r"^variables:\s*\[(.*?)\]\s*$", header, re.M)
    if not vm:
        raise DistillError("front matter has no `variables: [...]` line", path=path)
    declared = tuple(v.strip() for v in vm.group(1).split(",") if v.strip())
    meta: dict[str, int | str] = {}
    for line in header.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() != "variables" and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            v = value.strip()
            meta[key.strip()] = int(v) if v.isdigit() else v
    used = set(PLACEHOLDER.findall(body)) - set(meta)
    undeclared = sorted(used - set(declared))
    if undeclared:
        raise DistillError(f"placeholder(s) {', '.join(undeclared)} not declared in variables", path=path)
    unused = sorted(set(declared) - used)
    if unused:
        raise DistillError(f"declared variable(s) {', '.join(unused)} never used", path=path)
    return Template(name=name, text=body.strip() + "\n", variables=declared, path=path, sha256=content_hash(raw.encode("utf-8"), 64),
                    meta=meta)


def load_template(name: str, prompts_dir: Path | str | None = None) -> Template:
    """Load `name` (e.g. `judge`, `levels/r3`) from prompts_dir if it has it, else the bundled copy."""
    candidates = []
    if prompts_dir:
        candidates.append(Path(prompts_dir) / f"{name}.md")
    candidates.append(bundled_dir() / f"{name}.md")
    for path in candidates:
        if path.exists():
            from distill.io import read_text

            return parse_template(name, read_text(path, "prompt template"), str(path))
    raise DistillError(f"no prompt template named {name!r} (looked in {', '.join(str(c.parent) for c in candidates)})")


def template_names() -> list[str]:
    """Every bundled template name (`judge`, `levels/r3`, ...)."""
    root = bundled_dir()
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.md") if p.name != "README.md")


def check_prompts_dir(prompts_dir: Path | str) -> list[str]:
    """A --prompts folder must exist and hold at least one template; returns the names it lacks
    (those come from the bundled set)."""
    folder = Path(prompts_dir)
    if not folder.is_dir():
        raise DistillError("prompt folder not found", path=folder)
    names = template_names()
    present = [n for n in names if (folder / f"{n}.md").exists()]
    if not present:
        raise DistillError(f"no prompt templates here (expected files such as {names[0]}.md; copy the bundled folder {bundled_dir()})", path=folder)
    return [n for n in names if n not in present]
