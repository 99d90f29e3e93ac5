"""GB/T 4754-2017 industry classes and the plan terms that name groups of them.

A reviewer gives a term (造纸), a code (2221 or C2221) or a class name; every form
resolves to a set of codes. A rule applies when a project code lies inside one of the
rule's codes; when the project is given more coarsely than the rule (大类 26 against
a rule on 2521), it may or may not apply, and the checker says so.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from enum import Enum

from spatial.errors import InputError

_CODE = re.compile(r"^(?P<section>[A-Ta-t])?(?P<code>\d{2,4})$")


class IndustryMatch(Enum):
    NONE = "none"
    WITHIN = "within"  # the project class lies inside a rule class
    COARSER = "coarser"  # the project class contains a rule class: may apply


@dataclass(frozen=True)
class Industry:
    """A resolved project industry: what the reviewer typed and the codes it means."""

    query: str
    label: str
    codes: tuple[str, ...]

    def match(self, rule_codes: frozenset[str]) -> IndustryMatch:
        if any(c.startswith(r) for c in self.codes for r in rule_codes):
            return IndustryMatch.WITHIN
        if any(r.startswith(c) for c in self.codes for r in rule_codes):
            return IndustryMatch.COARSER
        return IndustryMatch.NONE


@dataclass(frozen=True)
class Term:
    name: str
    codes: frozenset[str]
    note: str = ""


@dataclass
class Taxonomy:
    """Classes (code → name) and plan terms (term → codes)."""

    standard: str
    classes: dict[str, str]
    terms: dict[str, Term] = field(default_factory=dict)

    def codes_of(self, term: str) -> frozenset[str]:
        if term not in self.terms:
            raise KeyError(f"industry term {term!r} is not in the taxonomy")
        return self.terms[term].codes

    def class_name(self, code: str) -> str:
        return self.classes.get(code, "")

    def resolve(self, text: str) -> Industry:
        """Resolve a term, a code or an exact class name; raise with suggestions otherwise."""
        query = text.strip()
        if query in self.terms:
            term = self.terms[query]
            return Industry(query, query, tuple(sorted(term.codes)))
        code_match = _CODE.match(query)
        if code_match:
            code = code_match["code"]
            if code in self.classes or (len(code) >= 3 and code[:2] in self.classes):
                name = self.classes.get(code) or f"{self.classes[code[:2]]}（{code}）"
                return Industry(query, f"{code} {name}", (code,))
            raise InputError(
                "industry", text,
                f"{self.standard} 中没有行业代码 {code}；请给出两位大类或四位小类代码。",
                f"{self.standard} has no class {code}; give a 2-digit division or 4-digit class code.",
            )
        by_name = [c for c, n in self.classes.items() if n == query]
        if by_name:
            code = min(by_name, key=len)
            return Industry(query, f"{code} {query}", (code,))
        suggestions = self.suggest(query)
        raise InputError(
            "industry", text,
            f"未识别的行业。相近的名称：{'、'.join(suggestions) or '无'}；也可直接给出国民经济行业代码。",
            f"unknown industry. Nearest known terms: {', '.join(suggestions) or 'none'}; "
            "a GB/T 4754-2017 code also works.",
        )

    def suggest(self, query: str, limit: int = 6) -> list[str]:
        names = list(self.terms) + list(self.classes.values())
        contains = [n for n in names if query in n or n in query]
        close = difflib.get_close_matches(query, names, n=limit, cutoff=0.3)
        return list(dict.fromkeys(contains + close))[:limit]
