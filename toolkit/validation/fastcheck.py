"""A compiled yes/no check of annotation records, equivalent to the JSON Schema.

``jsonschema`` (``toolkit.validation.schema.SchemaLayer``) is the reference, and the only source
of error messages and paths. It is also slow: ~450 µs for a record with 15 entity spans,
because every keyword of every sub-schema goes through its generic machinery.
``compile_record_check(scheme)`` turns the scheme's annotation schema into straight-line
Python (one function, no calls per keyword) that only answers "does jsonschema find any
error?": about 100 times faster. Valid records, nearly all of them, stop there;
``fast_record_errors`` asks jsonschema for the errors of the others, so every error path
reported is jsonschema's own.

The check is compiled from the JSON Schema itself, not from the scheme, and each keyword is
translated with jsonschema's exact semantics (draft 2020-12):

- ``type``: ``integer`` is an ``int`` that is not a ``bool``, or a ``float`` with
  ``is_integer()`` (so ``1.0`` is an integer); ``number`` is any ``numbers.Number`` but
  ``bool``; ``object`` is ``dict``, ``array`` is ``list``;
- ``minimum``/``maximum`` (and the exclusive ones), ``maxLength``/``minLength``,
  ``minItems``/``maxItems``, ``pattern`` apply only to instances of their type, as in
  jsonschema; ``pattern`` is ``re.search`` (so ``$`` also matches before a final newline);
- ``format`` calls the very function the validator's format checker has registered for
  that format (``date-time`` is ``rfc3339_validator`` on the upper-cased string), and does
  nothing for formats it has none for, like jsonschema;
- ``enum``/``const`` compare like jsonschema's ``equal`` (``True`` is not ``1``); ``uniqueItems``
  uses jsonschema's ``uniq`` unless the items are known to be strings;
- ``required``, ``properties``, ``additionalProperties: false``, ``items``.

A schema with any other keyword (``$ref``, ``oneOf``, ``patternProperties``, ...) or another
dialect is not compiled: the check then is jsonschema's own ``is_valid``, slow but still
exact. ``tests/test_fastcheck.py`` compares verdicts with jsonschema on hand-written tricky
records and on generated mutations, for the default scheme and others.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import jsonschema
from jsonschema import _utils as jsonschema_utils

from ..scheme import Scheme, build_annotation_schema

__all__ = ["Check", "RecordErrors", "compile_schema_check", "compile_record_check", "fast_record_errors"]

Check = Callable[[Any], bool]

_DIALECTS = frozenset({"https://json-schema.org/draft/2020-12/schema",
                       "https://json-schema.org/draft/2020-12/schema#"})
# Keywords jsonschema only records (no assertion): ignored here too.
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "default",
                          "examples", "deprecated", "readOnly", "writeOnly", "$defs",
                          "definitions"})
_ALL_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})
_NUMERIC = frozenset({"integer", "number"})


class RecordErrors(Protocol):
    """Anything that lists a record's JSON Schema errors (``toolkit.validation.schema.SchemaLayer``)."""

    def errors(self, record: dict[str, Any]) -> list[Any]: ...


class _Unsupported(Exception):
    """The schema uses something this compiler does not translate."""


def _is_integer(x: Any) -> bool:
    """jsonschema's draft 6+ ``integer`` for any Python value."""
    if isinstance(x, bool):
        return False
    return isinstance(x, int) or (isinstance(x, float) and x.is_integer())


def _is_number(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, numbers.Number)


def _type_test(kind: str, var: str) -> str:
    """Expression true iff ``var`` is of JSON Schema type ``kind`` (fast paths first)."""
    if kind == "integer":
        return f"(type({var}) is int or _is_integer({var}))"
    if kind == "number":
        return f"(type({var}) is float or type({var}) is int or _is_number({var}))"
    if kind == "string":
        return f"isinstance({var}, str)"
    if kind == "null":
        return f"{var} is None"
    if kind == "boolean":
        return f"({var} is True or {var} is False)"
    if kind == "object":
        return f"isinstance({var}, dict)"
    if kind == "array":
        return f"isinstance({var}, list)"
    raise _Unsupported(f"type {kind!r}")


def _covers(kinds: frozenset[str], kind: str) -> frozenset[str]:
    """The subset of ``kinds`` whose instances are all of JSON type ``kind``."""
    if kind == "number":
        return kinds & _NUMERIC
    return kinds & {kind}


class _Compiler:
    def __init__(self, format_checker: jsonschema.FormatChecker | None) -> None:
        self.format_checker = format_checker
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {
            "_is_integer": _is_integer, "_is_number": _is_number,
            "_equal": jsonschema_utils.equal, "_uniq": jsonschema_utils.uniq,
        }
        self.counter = 0

    def const(self, value: Any, prefix: str = "_c") -> str:
        self.counter += 1
        name = f"{prefix}{self.counter}"
        self.consts[name] = value
        return name

    def number(self, value: int | float) -> str:
        """A bound as a literal in the source (a named constant for inf and nan)."""
        if isinstance(value, int) or math.isfinite(value):
            return repr(value)
        return self.const(value)

    def var(self) -> str:
        self.counter += 1
        return f"v{self.counter}"

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def fail_unless(self, depth: int, condition: str) -> None:
        self.emit(depth, f"if not ({condition}): return False")

    def guard(self, kinds: frozenset[str], kind: str, var: str) -> str | None:
        """Condition under which a keyword of ``kind`` applies to ``var`` (None: always).

        Returns "" when it can never apply (the type keyword already rules it out).
        """
        applies = _covers(kinds, kind)
        if applies == kinds:
            return None
        if not applies:
            return ""
        if kinds - applies == {"null"}:
            return f"{var} is not None"
        return " or ".join(_type_test(k, var) for k in sorted(applies))

    # --------------------------------------------------------------- keywords

    def schema(self, schema: Any, var: str, depth: int) -> frozenset[str]:
        """Emit the checks of ``schema`` on ``var``; returns the types ``var`` can have after."""
        if schema is True or schema == {}:
            return _ALL_TYPES
        if schema is False:
            self.emit(depth, "return False")
            return frozenset()
        if not isinstance(schema, Mapping):
            raise _Unsupported(f"schema {schema!r}")
        known = {"type", "enum", "const", "minimum", "maximum", "exclusiveMinimum",
                 "exclusiveMaximum", "minLength", "maxLength", "pattern", "format", "items",
                 "minItems", "maxItems", "uniqueItems", "properties", "required",
                 "additionalProperties"}
        for key in schema:
            if key not in known and key not in _ANNOTATIONS and not key.startswith("x-"):
                raise _Unsupported(f"keyword {key!r}")

        kinds = _ALL_TYPES
        if "type" in schema:
            declared = schema["type"]
            declared = [declared] if isinstance(declared, str) else list(declared)
            if not declared or not all(isinstance(k, str) for k in declared):
                raise _Unsupported(f"type {declared!r}")
            order = sorted(declared, key=lambda k: k == "null")  # null is the rarer case
            self.fail_unless(depth, " or ".join(_type_test(k, var) for k in order))
            kinds = frozenset(declared)
            if "integer" in kinds and "number" in kinds:
                kinds = kinds - {"integer"}

        if "enum" in schema:
            self.enum(schema["enum"], var, depth)
        if "const" in schema:
            self.fail_unless(depth, f"_equal({self.const(schema['const'])}, {var})")

        numeric = [(key, op) for key, op in (("minimum", "<"), ("maximum", ">"),
                                             ("exclusiveMinimum", "<="),
                                             ("exclusiveMaximum", ">="))
                   if key in schema]
        for key, _op in numeric:
            if isinstance(schema[key], bool) or not isinstance(schema[key], (int, float)):
                raise _Unsupported(f"{key} {schema[key]!r}")
        self.keyword_block(kinds, "number", var, depth, [
            f"if {var} {op} {self.number(schema[key])}: return False" for key, op in numeric])

        string_checks = []
        for key, op in (("minLength", "<"), ("maxLength", ">")):
            if key in schema:
                if not isinstance(schema[key], int) or isinstance(schema[key], bool):
                    raise _Unsupported(f"{key} {schema[key]!r}")
                string_checks.append(f"if len({var}) {op} {schema[key]}: return False")
        if "pattern" in schema:
            pattern = self.const(re.compile(schema["pattern"]), "_re")
            string_checks.append(f"if {pattern}.search({var}) is None: return False")
        self.keyword_block(kinds, "string", var, depth, string_checks)

        if "format" in schema:
            self.format(schema["format"], var, depth)

        self.array(schema, kinds, var, depth)
        self.object(schema, kinds, var, depth)
        return kinds

    def keyword_block(self, kinds: frozenset[str], kind: str, var: str, depth: int,
                      lines: list[str]) -> None:
        if not lines:
            return
        guard = self.guard(kinds, kind, var)
        if guard == "":
            return
        if guard is not None:
            self.emit(depth, f"if {guard}:")
            depth += 1
        for line in lines:
            self.emit(depth, line)

    def enum(self, values: Any, var: str, depth: int) -> None:
        if not isinstance(values, list):
            raise _Unsupported("enum that is not a list")
        strings = [v for v in values if isinstance(v, str)]
        others = [v for v in values if not isinstance(v, str)]
        if all(v is None for v in others) and all(type(v) is str for v in strings):
            # equal(each, x) for a str member is ``each == x``, for None ``x is None``.
            parts = []
            if strings:
                parts.append(f"(isinstance({var}, str) and {var} in {self.const(frozenset(strings))})")
            if others:
                parts.append(f"{var} is None")
            self.fail_unless(depth, " or ".join(parts) or "False")
        else:
            members = self.const(tuple(values))
            self.fail_unless(depth, f"any(_equal(_e, {var}) for _e in {members})")

    def format(self, name: Any, var: str, depth: int) -> None:
        checker = self.format_checker
        if checker is None or name not in checker.checkers:
            return  # jsonschema asserts nothing then
        func, raises = checker.checkers[name]
        if raises:
            def conforms(instance: Any, _func: Any = func, _raises: Any = raises) -> bool:
                try:
                    return bool(_func(instance))
                except _raises:
                    return False
            func = conforms
        self.fail_unless(depth, f"{self.const(func, '_fmt')}({var})")

    def array(self, schema: Mapping[str, Any], kinds: frozenset[str], var: str,
              depth: int) -> None:
        keys = [k for k in ("items", "minItems", "maxItems", "uniqueItems") if k in schema]
        if not keys:
            return
        if "prefixItems" in schema:
            raise _Unsupported("prefixItems")
        guard = self.guard(kinds, "array", var)
        if guard == "":
            return
        if guard is not None:
            self.emit(depth, f"if {guard}:")
            depth += 1
        for key, op in (("minItems", "<"), ("maxItems", ">")):
            if key in schema:
                if not isinstance(schema[key], int) or isinstance(schema[key], bool):
                    raise _Unsupported(f"{key} {schema[key]!r}")
                self.emit(depth, f"if len({var}) {op} {schema[key]}: return False")
        item_kinds = _ALL_TYPES
        if "items" in schema:
            if isinstance(schema["items"], list):
                raise _Unsupported("items as a list")
            item = self.var()
            start = len(self.lines)
            self.emit(depth, f"for {item} in {var}:")
            item_kinds = self.schema(schema["items"], item, depth + 1)
            if len(self.lines) == start + 1:
                self.lines.pop()  # items: {} / true asserts nothing
        if schema.get("uniqueItems") is True:
            if item_kinds == {"string"}:
                # Every item is a str (checked above): equal() on strs is ==.
                self.emit(depth, f"if len(set({var})) != len({var}): return False")
            else:
                self.emit(depth, f"if not _uniq({var}): return False")
        elif "uniqueItems" in schema and not isinstance(schema["uniqueItems"], bool):
            raise _Unsupported("uniqueItems that is not a boolean")

    def object(self, schema: Mapping[str, Any], kinds: frozenset[str], var: str,
               depth: int) -> None:
        keys = [k for k in ("properties", "required", "additionalProperties") if k in schema]
        if not keys:
            return
        guard = self.guard(kinds, "object", var)
        if guard == "":
            return
        if guard is not None:
            self.emit(depth, f"if {guard}:")
            depth += 1
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        extra = schema.get("additionalProperties", True)
        if not isinstance(properties, Mapping) or not isinstance(required, list):
            raise _Unsupported("properties/required of the wrong shape")
        if extra not in (True, False):
            raise _Unsupported("additionalProperties that is a schema")
        names = frozenset(properties)
        needed = frozenset(required)
        if extra is False and needed == names:
            self.fail_unless(depth, f"{var}.keys() == {self.const(names)}")
        else:
            if extra is False:
                self.fail_unless(depth, f"{self.const(names)}.issuperset({var})")
            if needed:
                self.fail_unless(depth, f"{var}.keys() >= {self.const(needed)}")
        for name, sub in properties.items():
            if sub is True or sub == {} or (isinstance(sub, Mapping) and
                                            all(k in _ANNOTATIONS or k.startswith("x-")
                                                for k in sub)):
                continue
            value = self.var()
            if name in needed:
                self.emit(depth, f"{value} = {var}[{name!r}]")
                self.schema(sub, value, depth)
            else:
                self.emit(depth, f"if {name!r} in {var}:")
                self.emit(depth + 1, f"{value} = {var}[{name!r}]")
                self.schema(sub, value, depth + 1)


def compile_schema_check(schema: Mapping[str, Any], *,
                         format_checker: jsonschema.FormatChecker | None = None) -> Check:
    """``check(instance) -> bool``: True iff jsonschema finds no error in ``instance``.

    ``format_checker`` defaults to the one ``RecordValidator`` uses (the dialect's
    ``FORMAT_CHECKER``). Falls back to jsonschema's ``is_valid`` for schemas it cannot
    compile; ``check.compiled`` tells which.
    """
    cls = jsonschema.validators.validator_for(schema)
    if format_checker is None:
        format_checker = cls.FORMAT_CHECKER
    try:
        if schema.get("$schema") not in _DIALECTS:
            raise _Unsupported(f"dialect {schema.get('$schema')!r}")
        compiler = _Compiler(format_checker)
        compiler.schema(schema, "v", 1)
        source = "def check(v):\n" + "\n".join(compiler.lines) + "\n    return True\n"
        namespace = dict(compiler.consts)
        exec(compile(source, "<toolkit.validation.fastcheck>", "exec"), namespace)  # noqa: S102
        check = namespace["check"]
        check.source = source  # type: ignore[attr-defined]
        check.compiled = True  # type: ignore[attr-defined]
        return check  # type: ignore[no-any-return]
    except (_Unsupported, re.error):
        validator = cls(schema, format_checker=format_checker)

        def check(instance: Any) -> bool:
            return validator.is_valid(instance)

        check.source = None  # type: ignore[attr-defined]
        check.compiled = False  # type: ignore[attr-defined]
        return check


def compile_record_check(scheme: Scheme) -> Check:
    """The compiled check of one normalised annotation record of ``scheme``."""
    return compile_schema_check(build_annotation_schema(scheme))


def fast_record_errors(check: Check, validator: RecordErrors, record: dict[str, Any]) -> list[Any]:
    """``validator.errors(record)``, skipped (``[]``) when the compiled check passes.

    ``validator`` is anything with an ``errors(record)`` method that lists jsonschema's
    errors (e.g. ``toolkit.validation.schema.SchemaLayer`` built with ``fast=False``).
    """
    if check(record):
        return []
    return validator.errors(record)
