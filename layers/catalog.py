"""Read the declared data under layers/data into engine objects.

The files are the source of truth: plan rules (one file per plan), the industry
taxonomy, the layer declarations and the pinned sources. This module only parses
and validates them; it never touches geometry.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from spatial.industry import Taxonomy, Term
from spatial.rules import Action, Plan, Rule, Stage, Zone, ZoneKind

DATA = Path(str(resources.files("layers") / "data"))


def read_yaml(name: str) -> dict:
    with (DATA / name).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@lru_cache(maxsize=1)
def taxonomy() -> Taxonomy:
    raw = read_yaml("industries.yaml")
    classes = {str(code): name for code, name in raw["classes"].items()}
    declared = raw["terms"]

    def expand(name: str, seen: tuple[str, ...] = ()) -> frozenset[str]:
        if name in seen:
            raise ValueError(f"industry term {name!r} includes itself via {' → '.join(seen)}")
        entry = declared[name]
        codes = {str(c) for c in entry.get("codes", [])}
        for code in codes:
            if code not in classes:
                raise ValueError(f"industry term {name!r} names unknown class {code}")
        for included in entry.get("includes", []):
            codes |= expand(included, (*seen, name))
        return frozenset(codes)

    terms = {
        name: Term(name, expand(name), entry.get("note", ""), tuple(entry.get("aliases", [])))
        for name, entry in declared.items()
    }
    return Taxonomy(standard=raw["standard"], classes=classes, terms=terms)


def layer_declarations() -> dict[str, dict]:
    return read_yaml("layers.yaml")


def demo_parameters() -> dict:
    return read_yaml("demo.yaml")


def source_pins() -> dict[str, dict]:
    return read_yaml("sources.yaml")


def rule_files() -> list[Path]:
    return sorted((DATA / "rules").glob("*.yaml"))


@lru_cache(maxsize=1)
def rules() -> tuple[Rule, ...]:
    """Every rule of every plan file, validated against the taxonomy and layer declarations."""
    terms = taxonomy()
    declared_layers = layer_declarations()
    loaded: list[Rule] = []
    for path in rule_files():
        with path.open(encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
        plan = Plan(**{k: str(v) for k, v in raw["plan"].items() if k in Plan.__dataclass_fields__})
        for entry in raw["rules"]:
            loaded.append(_rule(entry, plan, terms, declared_layers, path.name))
    ids = [rule.id for rule in loaded]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate rule ids: {sorted(duplicates)}")
    return tuple(loaded)


def _rule(entry: dict, plan: Plan, terms: Taxonomy, declared_layers: dict, filename: str) -> Rule:
    where = f"{filename}: rule {entry.get('id', '?')}"
    zone_raw = dict(entry["zone"])
    zone = Zone(kind=ZoneKind(zone_raw.pop("kind")), **{k: (str(v) if k == "section" else v) for k, v in zone_raw.items()})
    if zone.kind in (ZoneKind.BUFFER, ZoneKind.WITHIN) and zone.layer not in declared_layers:
        raise ValueError(f"{where}: zone layer {zone.layer!r} is not declared in layers.yaml")
    if zone.kind is ZoneKind.BUFFER and not zone.distance_m:
        raise ValueError(f"{where}: a buffer zone needs distance_m")
    if entry.get("general") and zone.kind is not ZoneKind.JURISDICTION:
        raise ValueError(f"{where}: a general condition applies to the whole jurisdiction")
    if zone.kind is ZoneKind.UNDEFINED and not zone.undefined:
        raise ValueError(f"{where}: an undefined zone must say what the plan leaves undefined")
    industries = tuple(entry["industries"])
    excepted = tuple(entry.get("except", ()))
    unknown = [t for t in (*industries, *excepted) if t not in terms.terms]
    if unknown:
        raise ValueError(f"{where}: industry terms {unknown} are not in industries.yaml")
    return Rule(
        id=entry["id"],
        plan=plan,
        section=entry["section"],
        quote=entry["quote"],
        zone=zone,
        action=Action(entry["action"]),
        industries=industries,
        industry_codes=frozenset().union(*(terms.codes_of(t) for t in industries)),
        stages=frozenset(Stage(s) for s in entry["stages"]),
        excepted=excepted,
        excepted_codes=frozenset().union(*(terms.codes_of(t) for t in excepted)),
        note=entry.get("note", ""),
        deadline=entry.get("deadline"),
        general=bool(entry.get("general", False)),
    )
