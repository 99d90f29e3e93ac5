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

    def match(self, rule_codes: frozenset[str], excepted: frozenset[str] = frozenset()) -> IndustryMatch:
        """How the project relates to a rule's classes, less the classes the rule exempts.

        A project wholly inside an exempted class is not matched; one given more
        coarsely than an exempted class (大类 48 against an exemption for 4812) may or
        may not be exempt, so it matches as COARSER.
        """
        if any(c.startswith(r) for c in self.codes for r in rule_codes):
            base = IndustryMatch.WITHIN
        elif any(r.startswith(c) for c in self.codes for r in rule_codes):
            base = IndustryMatch.COARSER
        else:
            return IndustryMatch.NONE
        if excepted and all(any(c.startswith(e) for e in excepted) for c in self.codes):
            return IndustryMatch.NONE
        if any(e.startswith(c) for c in self.codes for e in excepted):
            return IndustryMatch.COARSER
        return base


@dataclass(frozen=True)
class Term:
    name: str
    codes: frozenset[str]
    note: str = ""
    aliases: tuple[str, ...] = ()  # words reviewers use for it: 焦炭 for 焦化


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
        found = self.mentioned_in(query)
        if len({codes for _, codes in found}) == 1:
            name, codes = found[0]
            return Industry(query, f"{name}（由“{query}”识别）", tuple(sorted(codes)))
        if found:
            names = "、".join(name for name, _ in found)
            raise InputError(
                "industry", text,
                f"描述同时符合多个行业：{names}。请指定其中之一（或给出行业代码）。",
                f"the description matches several industries: {names}; name one of them or give a code.",
            )
        suggestions = self.suggest(query)
        raise InputError(
            "industry", text,
            f"未识别的行业。相近的名称：{'、'.join(suggestions) or '无'}；也可直接给出国民经济行业代码。",
            f"unknown industry. Nearest known terms: {', '.join(suggestions) or 'none'}; "
            "a GB/T 4754-2017 code also works.",
        )

    def mentioned_in(self, text: str) -> list[tuple[str, frozenset[str]]]:
        """Terms and class names a free-text description mentions, most specific first.

        A mention inside a longer mention ("钢" inside "钢压延加工") is dropped.
        """
        spoken: dict[str, tuple[str, frozenset[str]]] = {}
        for term in self.terms.values():
            for word in (term.name, *term.aliases):
                if word in text:
                    spoken[word] = (term.name, term.codes)
        for code, name in self.classes.items():
            if len(name) >= 2 and name in text and name not in spoken:
                spoken[name] = (f"{code} {name}", frozenset({code}))
        words = sorted(spoken, key=len, reverse=True)
        kept = [w for i, w in enumerate(words) if not any(w in longer for longer in words[:i])]
        return list(dict.fromkeys(spoken[w] for w in kept))

    def search(self, text: str, limit: int = 20) -> list[tuple[str, tuple[str, ...], str]]:
        """(name, codes, note) of terms and classes matching a text, for look-up by a reviewer."""
        query = text.strip()
        rows = [(t.name, tuple(sorted(t.codes)), t.note) for t in self.terms.values()
                if query in t.name or t.name in query or any(query in a or a in query for a in t.aliases)]
        rows += [(name, (code,), "") for code, name in self.classes.items() if query in name or query == code]
        rows += [(name, tuple(sorted(codes)), "") for name, codes in self.mentioned_in(query)]
        return list(dict.fromkeys(rows))[:limit]

    def suggest(self, query: str, limit: int = 6) -> list[str]:
        names = list(self.terms) + list(self.classes.values())
        contains = [n for n in names if query in n or n in query]
        close = difflib.get_close_matches(query, names, n=limit, cutoff=0.3)
        return list(dict.fromkeys(contains + close))[:limit]
