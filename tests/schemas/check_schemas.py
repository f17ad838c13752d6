#!/usr/bin/env python3
"""Schema conformance check for schemas/ (registered with ctest as `schema_examples`).

Usage: check_schemas.py <schemas dir>

Checks, each counted as one test:
  * every *.schema.json is a valid JSON Schema (draft 2020-12);
  * every examples/*.json is valid against its type schema (the type is the file name up to an
    optional ".<variant>"), has no duplicate names, and uses no NaN/Infinity;
  * the schemas are not vacuous: each valid example with one required envelope attribute or one
    required data field removed is rejected;
  * every examples/invalid/*.json has a non-empty sibling .reason (the decoder's exact reason,
    checked by decoder_test) and is rejected by the schema too, unless it breaks a rule JSON
    Schema cannot express: those are listed in BEYOND_JSON_SCHEMA below, and the list is
    checked both ways (a listed example the schema rejects is a stale entry: fail).

$refs resolve against the schemas in the folder only; nothing is fetched from the network.
Works with python3-jsonschema 4.10 (Debian bookworm: RefResolver) and with 4.18+ (referencing).
The last line of output is "N passed, M failed"; the exit status is 1 when M > 0.
"""

import json
import os
import sys

import jsonschema
from jsonschema import Draft202012Validator

# Invalid examples whose rule JSON Schema cannot state; the decoder alone rejects them.
BEYOND_JSON_SCHEMA = {
    "duplicate_field.json": "a parsed JSON object keeps one of two equal names",
    "valid_before_not_after.json": "JSON Schema cannot compare two fields",
    "log_index_as_float.json": "JSON Schema's integer type accepts 3.0",
}


class DuplicateName(ValueError):
    pass


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateName(f"duplicate name {key!r}")
        seen[key] = value
    return seen


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def load_strict(path):
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"), object_pairs_hook=_no_duplicates,
                          parse_constant=_no_constants)


def load_plain(path):
    """What a JSON Schema validator sees: a duplicate name keeps its last value."""
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"), parse_constant=_no_constants)


def _no_network(uri):
    raise LookupError(f"refusing to fetch {uri}: every $ref must resolve to a local schema")


def make_validator_factory(schemas):
    """Returns schema -> validator, resolving $refs among `schemas` only."""
    try:
        from referencing import Registry, Resource  # jsonschema >= 4.18

        def retrieve(uri):
            _no_network(uri)

        registry = Registry(retrieve=retrieve).with_resources(
            [(s["$id"], Resource.from_contents(s)) for s in schemas])

        def factory(schema):
            return Draft202012Validator(schema, registry=registry)
    except ImportError:  # jsonschema < 4.18 (Debian bookworm ships 4.10)
        store = {s["$id"]: s for s in schemas}

        def factory(schema):
            resolver = jsonschema.RefResolver(
                base_uri=schema["$id"], referrer=schema, store=store,
                handlers={"http": _no_network, "https": _no_network})
            return Draft202012Validator(schema, resolver=resolver)
    return factory


def first_error(validator, instance):
    """The most relevant validation error as one line, or None when valid."""
    err = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path) or "(root)"
    return f"{where}: {err.message}"


def type_of_file(name, types):
    """`x402.payment.authorized.solana.json` -> `x402.payment.authorized`."""
    stem = name[:-len(".json")]
    for t in sorted(types, key=len, reverse=True):
        if stem == t or stem.startswith(t + "."):
            return t
    return None


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    root = argv[1]
    passed = failed = 0

    def result(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
        print(("PASS " if ok else "FAIL ") + what)

    # 1. The schemas themselves.
    schemas = {}
    for name in sorted(os.listdir(root)):
        if not name.endswith(".schema.json"):
            continue
        try:
            schema = load_strict(os.path.join(root, name))
            Draft202012Validator.check_schema(schema)
            ok = schema.get("$id", "").endswith("/" + name)
            result(ok, f"schema {name}" + ("" if ok else ": $id does not end with its file name"))
            schemas[name[:-len(".schema.json")]] = schema
        except (ValueError, jsonschema.exceptions.SchemaError) as e:
            result(False, f"schema {name}: {e}")
    if "envelope" not in schemas:
        result(False, "envelope.schema.json is missing")
        print(f"{passed} passed, {failed} failed")
        return 1
    factory = make_validator_factory(list(schemas.values()))
    validators = {t: factory(s) for t, s in schemas.items()}
    types = [t for t in schemas if t != "envelope"]
    env_required = schemas["envelope"]["required"]

    # 2. Valid examples, and the schema's strictness on each of them.
    examples_dir = os.path.join(root, "examples")
    covered = set()
    for name in sorted(os.listdir(examples_dir)):
        if not name.endswith(".json"):
            continue
        t = type_of_file(name, types)
        if t is None:
            result(False, f"valid {name}: no schema for this file name")
            continue
        try:
            event = load_strict(os.path.join(examples_dir, name))
        except ValueError as e:
            result(False, f"valid {name}: {e}")
            continue
        err = first_error(validators[t], event)
        result(err is None, f"valid {name}" + ("" if err is None else f": {err}"))
        covered.add(t)
        if err is not None or not isinstance(event.get("data"), dict):
            continue
        data_required = schemas[t]["properties"]["data"]["required"]
        rejected_all, kept = True, []
        for attr in env_required:
            mutant = {k: v for k, v in event.items() if k != attr}
            if first_error(validators[t], mutant) is None:
                rejected_all, kept = False, kept + [attr]
        for field in data_required:
            mutant = dict(event, data={k: v for k, v in event["data"].items() if k != field})
            if first_error(validators[t], mutant) is None:
                rejected_all, kept = False, kept + ["data." + field]
        result(rejected_all, f"strict {name}: each required attribute/field removed is rejected"
               + ("" if rejected_all else f" (accepted without {', '.join(kept)})"))
    for t in types:
        if t not in covered:
            result(False, f"valid: no example for {t}")

    # 3. Invalid examples.
    invalid_dir = os.path.join(examples_dir, "invalid")
    names = sorted(os.listdir(invalid_dir))
    for name in names:
        if name.endswith(".reason") and name[:-len(".reason")] + ".json" not in names:
            result(False, f"invalid {name}: no sibling .json")
    for name in names:
        if not name.endswith(".json"):
            continue
        reason_path = os.path.join(invalid_dir, name[:-len(".json")] + ".reason")
        if not os.path.exists(reason_path):
            result(False, f"invalid {name}: missing .reason file")
            continue
        with open(reason_path, encoding="utf-8") as f:
            reason = f.read().rstrip("\n")
        if not reason:
            result(False, f"invalid {name}: empty .reason file")
            continue
        beyond = BEYOND_JSON_SCHEMA.get(name)
        try:
            event = load_plain(os.path.join(invalid_dir, name))
        except ValueError as e:
            result(beyond is None, f"invalid {name}: rejected as not JSON ({e}); decoder: {reason}")
            continue
        t = event.get("type") if isinstance(event, dict) else None
        validator = validators[t] if isinstance(t, str) and t in types else validators["envelope"]
        err = first_error(validator, event)
        if err is not None:
            result(beyond is None,
                   f"invalid {name}: rejected by schema ({err}); decoder: {reason}"
                   + ("" if beyond is None else " -- listed in BEYOND_JSON_SCHEMA: stale entry"))
        else:
            result(beyond is not None,
                   f"invalid {name}: schema accepts it, "
                   + (f"beyond JSON Schema ({beyond}); decoder only: {reason}" if beyond
                      else f"but the decoder rejects it: {reason}"))
    for name in BEYOND_JSON_SCHEMA:
        if name not in names:
            result(False, f"invalid {name}: listed in BEYOND_JSON_SCHEMA but missing")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
