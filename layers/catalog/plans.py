"""The plan rule files: every rule of every plan, and the sentences recorded as not encoded."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml

from layers.catalog.files import DATA, YAML_LOADER, layer_declarations
from layers.catalog.taxonomy import expand_terms, taxonomy
from spatial.industry import Taxonomy
from spatial.rules import Action, Plan, Rule, Stage, Zone, ZoneKind


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


@dataclass(frozen=True)
class NotEncoded:
    """A binding sentence the catalog records on purpose without a rule, and why."""

    plan: Plan
    section: str
    quote: str
    reason: str


@lru_cache(maxsize=1)
def not_encoded() -> tuple[NotEncoded, ...]:
    """Every sentence recorded as deliberately not encoded, in every plan file."""
    return tuple(item for path in rule_files() for item in _read_plan_file(path)[1])


def sentence_counts() -> dict[str, dict]:
    """Per plan: how many sentences the catalog encodes (distinct quotes of its rules) and how
    many it records as not encoded, so that an audit can be re-run against both."""
    counts: dict[str, dict] = {}
    for rule in rules():
        entry = counts.setdefault(rule.plan.id, {"title": rule.plan.title, "quotes": set(), "not_encoded": 0, "rules": 0})
        entry["quotes"].add(rule.quote)
        entry["rules"] += 1
    for item in not_encoded():
        counts.setdefault(item.plan.id, {"title": item.plan.title, "quotes": set(), "not_encoded": 0, "rules": 0})
        counts[item.plan.id]["not_encoded"] += 1
    return {plan: {"title": c["title"], "rules": c["rules"], "encoded": len(c["quotes"]), "not_encoded": c["not_encoded"]}
            for plan, c in counts.items()}


def read_rule_file(path: Path) -> list[Rule]:
    """One plan file's rules; a malformed file raises ValueError naming the file, the rule and the field."""
    return _read_plan_file(path)[0]


@lru_cache(maxsize=32)
def _read_plan_file(path: Path) -> tuple[list[Rule], list[NotEncoded]]:
    try:
        with path.open(encoding="utf-8") as handle:
            raw = yaml.load(handle, Loader=YAML_LOADER)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ValueError(f"{path.name}: not a readable YAML rule file: {error}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("plan"), dict) or not isinstance(raw.get("rules"), list):
        raise ValueError(f"{path.name}: field 'plan' (a mapping) and field 'rules' (a list) are required")
    try:
        plan = Plan(**{k: str(v) for k, v in raw["plan"].items() if k in Plan.__dataclass_fields__})
    except TypeError as error:
        raise ValueError(f"{path.name}: field 'plan' is incomplete: {error}") from None
    shared, declared_layers = taxonomy(), layer_declarations()
    try:
        local = expand_terms(raw.get("terms") or {}, shared.classes, base=shared.terms)
    except ValueError as error:
        raise ValueError(f"{path.name}: field 'terms': {error}") from None
    terms = dataclasses.replace(shared, terms=local)
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
    skipped = []
    for entry in raw.get("not_encoded") or []:
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and entry[k] for k in ("section", "quote", "reason")):
            raise ValueError(f"{path.name}: every entry of 'not_encoded' needs section, quote and reason: {entry!r}")
        skipped.append(NotEncoded(plan, entry["section"], entry["quote"], entry["reason"]))
    return rules, skipped


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
        raise ValueError(f"{where}: industry terms {unknown} are not in industries.yaml or the plan's own terms")
    scope = tuple(str(code) for code in entry.get("scope", ()))
    if any(not (len(code) == 6 and code.isdigit()) for code in scope):
        raise ValueError(f"{where}: scope holds admin codes of 6 digits, not {list(scope)}")
    if scope and not entry.get("scope_name"):
        raise ValueError(f"{where}: a scoped rule names its places in scope_name")
    enterprises = tuple(entry.get("enterprises", ()))
    if enterprises and not scope:
        raise ValueError(f"{where}: a rule on named enterprises is scoped to their county (scope)")
    deadline = entry.get("deadline")
    if deadline is not None:
        try:
            date.fromisoformat(str(deadline))
        except ValueError:
            raise ValueError(f"{where}: deadline {deadline!r} is not a date YYYY-MM-DD") from None
    used = [terms.terms[t] for t in industries]
    exact = frozenset().union(*(t.exact_codes for t in used))
    return Rule(
        id=entry["id"],
        plan=plan,
        section=entry["section"],
        quote=entry["quote"],
        zone=zone,
        action=Action(entry["action"]),
        industries=industries,
        industry_codes=exact,
        finer_codes=frozenset().union(*(t.finer_codes for t in used)) - exact,
        industry_terms=frozenset().union(*(t.includes for t in used)),
        stages=frozenset(Stage(s) for s in entry["stages"]),
        excepted=excepted,
        excepted_codes=frozenset().union(*(terms.codes_of(t) for t in excepted)),
        note=entry.get("note", ""),
        deadline=None if deadline is None else str(deadline),
        general=bool(entry.get("general", False)),
        scope=scope,
        scope_name=str(entry.get("scope_name", "")),
        enterprises=enterprises,
        condition=str(entry.get("condition", "")),
    )
