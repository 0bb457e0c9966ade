"""The problem schema: one validated record per competition problem, whatever its source."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PROBLEM_SCHEMA_VERSION = 1

# Answers that mean "no key was published" rather than a real key.
PLACEHOLDER_ANSWERS = {"", "?", "??", "-", "--", "n/a", "na", "none", "tbd", "todo", "null", "placeholder", "xxx"}

# Question texts that stand in for a problem that was never transcribed (seen in real data:
# "Question 11 (content not visible in provided pages)").
PLACEHOLDER_TEXT = re.compile(
    r"content not (?:visible|available)|not visible in (?:the )?provided|\bplaceholder\b|^\s*(?:question|problem)\s*\w*\s*\.?\s*$|^\s*(?:tbd|todo|n/?a)\s*$",
    re.I,
)

SECTION_ABBREV = {
    "freshman_sophomore_test": "fs",
    "junior_senior_test": "js",
    "two_person_speed_event": "tp",
}


_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


class Problem(BaseModel):
    """A competition problem with its official answer key (kept verbatim)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = PROBLEM_SCHEMA_VERSION
    id: str = Field(description="stable id, e.g. obryan-2024-fs-03")
    source: str = Field(description="collection name, e.g. obryan, math500")
    year: int | None = None
    section: str | None = None
    number: int | None = None
    text: str
    answer: str = Field(description="official key, verbatim")
    solution: str | None = None
    subject: str | None = None
    level: int | None = None
    answer_latex: str | None = None
    origin: str | None = Field(None, description="file and key/line the record came from")
    flags: list[str] = Field(default_factory=list, description="missing_answer, placeholder_text")
    twins: list[str] = Field(default_factory=list, description="ids of the same problem in other sections")

    @field_validator("id")
    @classmethod
    def _id_ok(cls, v: str) -> str:
        if not _ID.fullmatch(v):
            raise ValueError(f"id {v!r} must be letters, digits and . _ : -")
        return v

    @property
    def usable(self) -> bool:
        """False for problems a corpus run must skip (no real answer key)."""
        return not ({"missing_answer", "placeholder_text"} & set(self.flags))

    @property
    def group_key(self) -> str:
        """Problems sharing this key (twins) must stay on one side of a split."""
        return min([self.id, *self.twins])


def is_placeholder_answer(answer: str | None) -> bool:
    return answer is None or answer.strip().lower() in PLACEHOLDER_ANSWERS


def is_placeholder_text(text: str) -> bool:
    return bool(PLACEHOLDER_TEXT.search(text)) or len(text.split()) < 2


def normalise_text(text: str) -> str:
    """Text used to spot the same problem twice: NFKC, lower case, single spaces."""
    t = unicodedata.normalize("NFKC", text).lower()
    return " ".join(t.split())


def slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-") or "x"


def section_code(section: str) -> str:
    return SECTION_ABBREV.get(section, slug(section))
