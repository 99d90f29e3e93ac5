"""The catalog: the declared data under ``layers/catalog/data`` read into engine objects.

Plan rules (one file per plan), the industry taxonomy, the layer declarations, the demo
parameters and the pinned sources are the source of truth; this package only parses and
validates them. It never touches geometry, and imports nothing but ``spatial`` types.
"""

from layers.catalog.files import DATA, demo_parameters, layer_declarations, read_yaml, source_pins
from layers.catalog.plans import NotEncoded, not_encoded, read_rule_file, rule_files, rules, sentence_counts
from layers.catalog.taxonomy import expand_terms, taxonomy

__all__ = ["DATA", "NotEncoded", "demo_parameters", "expand_terms", "layer_declarations", "not_encoded", "read_rule_file",
           "read_yaml", "rule_files", "rules", "sentence_counts", "source_pins", "taxonomy"]
