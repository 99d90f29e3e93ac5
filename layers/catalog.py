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
# libyaml parses the catalog about five times faster than pure Python: a third of a cold check.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(name: str) -> dict:
    with (DATA / name).open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_YAML_LOADER)


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


@lru_cache(maxsize=1)
def layer_declarations() -> dict[str, dict]:
    """Read once per process: a run asks for it from several places (build, load, rules, imports)."""
    return read_yaml("layers.yaml")


@lru_cache(maxsize=1)
def demo_parameters() -> dict:
    return read_yaml("demo.yaml")


def source_pins() -> dict[str, dict]:
    return read_yaml("sources.yaml")


def rule_files() -> list[Path]:
    return sorted((DATA / "rules").glob("*.yaml"))


@lru_cache(maxsize=1)
def rules() -> tuple[Rule, ...]:
    """Every rule of every plan file, validated against the taxonomy and layer declarations."""
    loaded = [rule for path in rule_files() for rule in read_rule_file(path)]
    ids = [rule.id for rule in loaded]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate rule ids: {sorted(duplicates)}")
    return tuple(loaded)


def read_rule_file(path: Path) -> list[Rule]:
    """One plan file's rules; a malformed file raises ValueError naming the file, the rule and the field."""
    try:
        with path.open(encoding="utf-8") as handle:
            raw = yaml.load(handle, Loader=_YAML_LOADER)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ValueError(f"{path.name}: not a readable YAML rule file: {error}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("plan"), dict) or not isinstance(raw.get("rules"), list):
        raise ValueError(f"{path.name}: field 'plan' (a mapping) and field 'rules' (a list) are required")
    try:
        plan = Plan(**{k: str(v) for k, v in raw["plan"].items() if k in Plan.__dataclass_fields__})
    except TypeError as error:
        raise ValueError(f"{path.name}: field 'plan' is incomplete: {error}") from None
    terms, declared_layers = taxonomy(), layer_declarations()
    rules = []
    for entry in raw["rules"]:
        if not isinstance(entry, dict):
            raise ValueError(f"{path.name}: field 'rules' holds {entry!r}, not a rule mapping")
        try:
            rules.append(_rule(entry, plan, terms, declared_layers, path.name))
        except KeyError as error:
            raise ValueError(f"{path.name}: rule {entry.get('id', '?')}: field {error} is missing or unknown") from None
        except (TypeError, AttributeError) as error:
            raise ValueError(f"{path.name}: rule {entry.get('id', '?')}: a field has the wrong type: {error}") from None
        except ValueError as error:  # an enum value (kind, action, stage) outside its list
            if str(error).startswith(path.name):
                raise
            raise ValueError(f"{path.name}: rule {entry.get('id', '?')}: {error}") from None
    return rules


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
