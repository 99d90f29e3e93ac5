"""The industry taxonomy: GB/T 4754-2017 in full and the plan terms declared over its classes."""

from __future__ import annotations

from functools import lru_cache

from layers.catalog.files import DATA, read_yaml
from spatial.industry import Taxonomy, Term


@lru_cache(maxsize=1)
def taxonomy() -> Taxonomy:
    """GB/T 4754-2017 in full (``gbt4754_2017.tsv``) and the plan terms of ``industries.yaml``."""
    raw = read_yaml("industries.yaml")
    classes, sections = _classification()
    return Taxonomy(standard=raw["standard"], classes=classes, terms=expand_terms(raw["terms"], classes),
                    sections=sections)


def _classification() -> tuple[dict[str, str], dict[str, str]]:
    """Every 门类, 大类, 中类 and 小类 with its name, and the 门类 of each 大类."""
    classes, sections = {}, {}
    with (DATA / "gbt4754_2017.tsv").open(encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            code, name, section = line.rstrip("\n").split("\t")
            classes[code] = name
            if len(code) == 2:
                sections[code] = section
    return classes, sections


def expand_terms(declared: dict, classes: dict[str, str], base: dict[str, Term] | None = None) -> dict[str, Term]:
    """Terms with the codes of every term they include; ``base`` holds terms declared elsewhere
    (a plan's own list may include the shared terms).

    A term marked ``finer`` is narrower than its classes (洗煤 is part of 0610); its codes
    stay "finer" in every term that includes it, so a bare code never decides it.
    """
    base = base or {}

    def expand(name: str, seen: tuple[str, ...] = ()) -> Term:
        if name in seen:
            raise ValueError(f"industry term {name!r} includes itself via {' → '.join(seen)}")
        if name not in declared:
            if name in base:
                return base[name]
            raise ValueError(f"industry term {name!r} is included by {seen[-1]!r} but not declared")
        entry = declared[name]
        codes = frozenset(str(c) for c in entry.get("codes", []))
        for code in codes:
            if code not in classes:
                raise ValueError(f"industry term {name!r} names class {code}, which GB/T 4754-2017 does not have")
        exact, finer = (frozenset(), codes) if entry.get("finer") else (codes, frozenset())
        includes = {name}
        for included in entry.get("includes", []):
            part = expand(included, (*seen, name))
            if entry.get("finer"):  # a term narrower than its classes is narrower than the terms it spans
                finer |= part.codes
            else:
                exact |= part.exact_codes
                finer |= part.finer_codes
            includes |= part.includes
        return Term(name, exact | finer, entry.get("note", ""), tuple(entry.get("aliases", [])),
                    finer_codes=finer - exact, includes=frozenset(includes))

    return {**base, **{name: expand(name) for name in declared}}
