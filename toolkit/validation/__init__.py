"""The validation stage: Label Studio's answers -> normalised records, checked against the scheme.

Takes in: Label Studio tasks with their annotations (from the server at pull time, or an
export file), ``annotations/annotations.parquet``, ``tasks.jsonl`` or a records file.
Writes (workspace mode only): ``annotations/annotations.parquet`` (valid records) and
``annotations/quarantine.jsonl`` (invalid ones with their errors); otherwise it returns a
``Report`` and writes nothing.

- ``normalise``: one Label Studio task -> one record per annotation (plus drafts and
  predictions), with offsets checked and repaired, and relations, event arguments and
  per-region attributes placed on the regions they point at (or the annotation quarantined);
- ``schema``: layer 1, the generated JSON Schema (``jsonschema``), with ``fastcheck``, its
  compiled yes/no check, in front;
- ``semantic``: layer 2, what JSON Schema cannot say (offsets, overlap, required fields and
  attributes, the span labels a relation or role accepts, unique roles), and ``RecordChecker``
  (both layers);
- ``report``: the catalogue of error types, ``ValidationError`` and ``Report``;
- ``validate``: ``toolkit validate`` over a workspace or a file, quarantine included;
- ``exports`` and ``jsonstream``: Label Studio export files (JSON, JSON_MIN, JSONL, gzip)
  read one task at a time.

It sits below the Label Studio stage, which calls it at pull time; it needs nothing from
that stage, only the scheme and the articles table.
"""

from .exports import EXPORT_FORMATS, as_task, detect_format, iter_export_tasks, json_min_row_to_task
from .jsonstream import decode_item, iter_json_items, iter_raw_items
from .normalise import (DRAFT_KEYS, PREDICTION_KEYS, QUARANTINE_REASONS, RECORD_KEYS, NormalisedTask, OffsetStats,
                        drafts_arrow_schema, drafts_to_table, normalise_task, predictions_arrow_schema,
                        predictions_to_table, records_arrow_schema, records_to_table, result_hash)
from .report import ERROR_TYPES, Report, ValidationError, json_line, json_path
from .schema import SchemaLayer
from .semantic import IDENTITY_KEYS, RecordChecker, SemanticLayer
from .validate import (iter_parquet_records, quarantine_entry, validate_export, validate_file, validate_records,
                       validate_tasks, validate_workspace)

__all__ = [
    "EXPORT_FORMATS", "as_task", "detect_format", "iter_export_tasks", "json_min_row_to_task",
    "decode_item", "iter_json_items", "iter_raw_items",
    "DRAFT_KEYS", "PREDICTION_KEYS", "QUARANTINE_REASONS", "RECORD_KEYS", "NormalisedTask", "OffsetStats",
    "drafts_arrow_schema", "drafts_to_table", "normalise_task", "predictions_arrow_schema", "predictions_to_table",
    "records_arrow_schema", "records_to_table", "result_hash",
    "ERROR_TYPES", "Report", "ValidationError", "json_line", "json_path",
    "SchemaLayer", "IDENTITY_KEYS", "RecordChecker", "SemanticLayer",
    "iter_parquet_records", "quarantine_entry", "validate_export", "validate_file", "validate_records",
    "validate_tasks", "validate_workspace",
]
