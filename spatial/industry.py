"""GB/T 4754-2017 industry classes and the plan terms that name groups of them.

A reviewer gives a term (造纸), a code (2221 or C2221) or a class name; every form
resolves to a set of codes. A rule reaches a project only as far as its sentence does:

- a project given as a plan term matches rules naming that term, a term that includes
  it, or a term whose classes hold all of its classes; two terms that merely share a
  class (化工 and 煤制油气 share 2522/2523) are different industries;
- a project given as a code matches a rule whose classes hold it; when the code is
  coarser than the rule's term (0610 against 洗煤, 26 against 乙烯), it may or may not
  be that industry, and the check says 需复核, never 禁止.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from spatial.enums import IdentityEnum
from spatial.errors import InputError

_CODE = re.compile(r"^(?P<section>[A-Ta-t])?(?P<code>\d{2,4})$")


class IndustryMatch(IdentityEnum):
    NONE = "none"
    WITHIN = "within"  # the project class lies inside a rule class
    COARSER = "coarser"  # the project class contains a rule class: may apply


def _inside(code: str, classes: frozenset[str]) -> bool:
    return any(code.startswith(c) for c in classes)


@dataclass(frozen=True)
class Industry:
    """A resolved project industry: what the reviewer typed and the codes it means.

    ``term`` is set when the project was given as a plan term; ``includes`` then holds
    that term and every term it includes (两高 includes 钢铁).
    """

    query: str
    label: str
    codes: tuple[str, ...]
    term: str | None = None
    includes: frozenset[str] = frozenset()

    def match(self, rule_codes: frozenset[str], excepted: frozenset[str] = frozenset(),
              finer: frozenset[str] = frozenset(), rule_terms: frozenset[str] = frozenset()) -> IndustryMatch:
        """How the project relates to a rule, less the classes the rule exempts.

        ``rule_codes`` are the classes the rule's terms mean exactly; ``finer`` those of
        terms narrower than their classes (洗煤 is part of 0610); ``rule_terms`` the rule's
        terms with every term they include. A project wholly inside an exempted class is
        not matched; one given more coarsely than an exempted class (大类 48 against an
        exemption for 4812) may or may not be exempt, so it matches as COARSER.
        """
        base = self._term_match(rule_codes, rule_terms) if self.term else self._code_match(rule_codes, finer)
        if base is IndustryMatch.NONE:
            return base
        if excepted and all(_inside(c, excepted) for c in self.codes):
            return IndustryMatch.NONE
        if any(e.startswith(c) for c in self.codes for e in excepted):
            return IndustryMatch.COARSER
        return base

    def _term_match(self, rule_codes: frozenset[str], rule_terms: frozenset[str]) -> IndustryMatch:
        if self.term in rule_terms or (rule_codes and all(_inside(c, rule_codes) for c in self.codes)):
            return IndustryMatch.WITHIN
        if self.includes & rule_terms:
            return IndustryMatch.COARSER
        return IndustryMatch.NONE

    def _code_match(self, rule_codes: frozenset[str], finer: frozenset[str]) -> IndustryMatch:
        if all(_inside(c, rule_codes) for c in self.codes):
            return IndustryMatch.WITHIN
        if any(_inside(c, finer) or any(r.startswith(c) for r in rule_codes | finer) for c in self.codes):
            return IndustryMatch.COARSER
        return IndustryMatch.NONE


@dataclass(frozen=True)
class Term:
    name: str
    codes: frozenset[str]
    note: str = ""
    aliases: tuple[str, ...] = ()  # words reviewers use for it: 焦炭 for 焦化
    finer_codes: frozenset[str] = frozenset()  # classes the term is only part of: 洗煤 in 0610 烟煤和无烟煤开采洗选
    includes: frozenset[str] = frozenset()  # this term and every term it includes, by name

    @property
    def exact_codes(self) -> frozenset[str]:
        return self.codes - self.finer_codes


@dataclass
class Taxonomy:
    """Classes (code → name) and plan terms (term → codes)."""

    standard: str
    classes: dict[str, str]
    terms: dict[str, Term] = field(default_factory=dict)
    sections: dict[str, str] = field(default_factory=dict)  # division (2 digits) → 门类 letter

    def codes_of(self, term: str) -> frozenset[str]:
        if term not in self.terms:
            raise KeyError(f"industry term {term!r} is not in the taxonomy")
        return self.terms[term].codes

    def resolve(self, text: str) -> Industry:
        """Resolve a term, a code or an exact class name; raise with suggestions otherwise."""
        query = text.strip()
        if query in self.terms:
            return self.term_industry(query, query)
        code_match = _CODE.match(query)
        if code_match:
            return self._code_industry(query, code_match["code"], code_match["section"])
        by_name = [c for c, n in self.classes.items() if n == query and not c.isalpha()]
        if by_name:
            code = min(by_name, key=len)
            return Industry(query, f"{code} {query}", (code,))
        found = self.mentioned_in(query)
        if len({codes for _, codes in found}) == 1:
            name, codes = found[0]
            if name in self.terms:
                return self.term_industry(name, query)
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

    def term_industry(self, name: str, query: str) -> Industry:
        """A project given as a plan term (or one of its aliases)."""
        term = self.terms[name]
        label = name if name == query else f"{name}（由“{query}”识别）"
        return Industry(query, label, tuple(sorted(term.codes)), term=name, includes=term.includes)

    def _code_industry(self, query: str, code: str, section: str | None) -> Industry:
        """A GB/T code: it must exist in the standard, under the section letter if one is given."""
        if code in self.classes and (section is None or self.section_of(code) == section.upper()):
            return Industry(query, f"{code} {self.classes[code]}", (code,))
        near = self.nearest_codes(code)
        listed = "、".join(f"{c} {self.classes[c]}" for c in near) or "无"
        if code in self.classes:
            zh = f"行业代码 {code} 属于门类 {self.section_of(code)}，不属于门类 {section.upper()}；请核对门类字母，或只给数字代码。"
            en = f"class {code} belongs to section {self.section_of(code)}, not {section.upper()}; fix the letter or give the digits only."
        else:
            zh = f"{self.standard} 中没有行业代码 {code}。相近的代码：{listed}。"
            en = f"{self.standard} has no class {code}. Nearest real codes: {', '.join(near) or 'none'}."
        raise InputError("industry", query, zh, en)

    def section_of(self, code: str) -> str | None:
        """The 门类 letter of a division, group or class code."""
        return self.sections.get(code[:2])

    def nearest_codes(self, code: str, limit: int = 6) -> list[str]:
        """Real codes nearest to a code that does not exist: its siblings under the longest existing prefix."""
        for length in range(min(len(code), 4) - 1, 1, -1):
            parent = code[:length]
            if parent in self.classes:
                children = [c for c in self.classes if c.startswith(parent) and len(c) == len(code) and c != parent]
                return (children or [parent])[:limit]
        return sorted(c for c in self.classes if len(c) == 2 and c.isdigit() and abs(int(c) - int(code[:2])) <= 2)[:limit]

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
