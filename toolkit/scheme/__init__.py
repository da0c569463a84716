"""The scheme stage: ``schemas/scheme.json``, the one declaration of what annotators label.

Takes in: ``schemas/scheme.json`` (or the default scheme shipped in ``toolkit/data/``).
Writes: the files generated from it into ``schemas/`` (``toolkit scheme build``), checked in
and tested to be current.

- ``model``: the typed scheme (fields, labels, choices, span attributes, relations,
  events with roles and attributes), its round trip to JSON, the checks it must pass (the
  meta-schema, then what JSON Schema cannot say) and the schemes shipped with the toolkit;
- ``labeling_config``: the Label Studio labeling config (XML);
- ``annotation_schema``: the JSON Schema of one normalised annotation record;
- ``task_schema``: the JSON Schema of one line of ``tasks.jsonl``;
- ``features``: the Hugging Face ``Features`` of a release;
- ``files``: writing the generated files and telling when they are stale.

Every later stage reads the scheme; the scheme reads nothing but the shared modules.
"""

from .annotation_schema import build_annotation_schema
from .features import build_features, features_to_dict, value_feature
from .files import (GENERATED_FILES, build_scheme_files, check_scheme_files, ensure_scheme_files_current,
                    generated_files)
from .labeling_config import PALETTE, build_labeling_config
from .model import (JSON_SCHEMA_DIALECT, OPTIONAL_RECORD_COLUMNS, RECORD_COLUMNS, RESERVED_NAMES, TASK_DATA_KEYS, Choice, ChoiceField,
                    Field, Label, NumberField, Scheme, SpanField, TextField, default_scheme, meta_schema_text,
                    ATTRIBUTE_RESERVED_NAMES, BUILTIN_SCHEMES, Attribute, EventsField, RelationsField, RelationType,
                    Role, builtin_scheme,
                    render_json)
from .task_schema import build_task_schema

__all__ = [
    "JSON_SCHEMA_DIALECT", "OPTIONAL_RECORD_COLUMNS", "RECORD_COLUMNS", "RESERVED_NAMES", "TASK_DATA_KEYS", "GENERATED_FILES", "PALETTE",
    "Label", "Choice", "SpanField", "ChoiceField", "NumberField", "TextField", "Field", "Scheme",
    "default_scheme", "meta_schema_text", "render_json", "ATTRIBUTE_RESERVED_NAMES", "BUILTIN_SCHEMES",
    "Attribute", "EventsField", "RelationsField", "RelationType", "Role", "builtin_scheme",
    "build_labeling_config", "build_annotation_schema", "build_task_schema", "build_features",
    "features_to_dict", "value_feature", "generated_files", "build_scheme_files", "check_scheme_files",
    "ensure_scheme_files_current",
]
