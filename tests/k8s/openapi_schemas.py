# SPDX-License-Identifier: GPL-3.0-or-later
"""JSON Schemas for kubeconform, made from a cluster's own OpenAPI v2 document.

    write_schemas(openapi, directory, kinds) -> {(apiVersion, kind): path}
    kubeconform(binary, directory, docs, workdir) -> kubeconform's JSON report (plus "returncode")

Each schema is the definition of one kind (found by its ``x-kubernetes-group-version-kind``)
with the definitions it references, transitively, under ``definitions`` (the document's
``#/definitions/...`` references then resolve inside the file). Made strict the way
kubeconform's own "-strict" schema sets are: ``additionalProperties: false`` on every object
with ``properties`` (unless it preserves unknown fields), and int-or-string fields accept
both. File names follow kubeconform's template ``{{ .ResourceKind }}{{ .KindSuffix }}.json``
(``deployment-apps-v1.json``, ``service-v1.json``, ``servicemonitor-monitoring-v1.json``).
"""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import yaml

LOCATION = "{{ .ResourceKind }}{{ .KindSuffix }}.json"
_INT_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "integer"}]}


def file_name(api_version: str, kind: str) -> str:
    group_version = api_version.split("/")
    suffix = "-" + group_version[0].split(".")[0].lower()
    if len(group_version) > 1:
        suffix += "-" + group_version[1].lower()
    return f"{kind.lower()}{suffix}.json"


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    if node.get("format") == "int-or-string" or node.get("x-kubernetes-int-or-string"):
        return dict(_INT_OR_STRING)
    out = {k: _strict(v) for k, v in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            found.add(ref.removeprefix("#/definitions/"))
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def _closure(definitions: dict[str, Any], name: str) -> dict[str, Any]:
    todo, seen = [name], set()
    while todo:
        current = todo.pop()
        if current in seen or current not in definitions:
            continue
        seen.add(current)
        refs: set[str] = set()
        _refs(definitions[current], refs)
        todo.extend(refs - seen)
    return {n: definitions[n] for n in sorted(seen)}


def write_schemas(openapi: dict[str, Any], directory: Path, kinds: set[tuple[str, str]]) -> dict[tuple[str, str], Path]:
    definitions = openapi["definitions"]
    by_gvk: dict[tuple[str, str], str] = {}
    for name, definition in definitions.items():
        for gvk in definition.get("x-kubernetes-group-version-kind") or []:
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk.get("group") else gvk["version"]
            by_gvk.setdefault((api_version, gvk["kind"]), name)
    missing = sorted(kinds - set(by_gvk))
    if missing:
        raise LookupError(f"the cluster's OpenAPI has no definition of {missing}")
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for api_version, kind in sorted(kinds):
        name = by_gvk[(api_version, kind)]
        schema = copy.deepcopy(definitions[name])
        schema["definitions"] = _closure(definitions, name)
        path = directory / file_name(api_version, kind)
        path.write_text(json.dumps(_strict(schema)))
        written[(api_version, kind)] = path
    return written


def kubeconform(binary: Path, directory: Path, docs: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    """Run kubeconform -strict on ``docs`` against the schemas of ``directory`` (write_schemas')."""
    path = workdir / f"manifests-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    done = subprocess.run(
        [
            str(binary),
            "-strict",
            "-summary",
            "-output",
            "json",
            "-schema-location",
            str(directory / LOCATION),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stdout)
    report["returncode"] = done.returncode
    return report


def served_kinds(openapi: dict[str, Any]) -> set[tuple[str, str]]:
    """(apiVersion, kind) of every kind the OpenAPI document defines (what the cluster serves)."""
    return {
        (f"{g['group']}/{g['version']}" if g["group"] else g["version"], g["kind"])
        for d in openapi["definitions"].values()
        for g in d.get("x-kubernetes-group-version-kind", [])
    }


def kubeconform_served(
    openapi: dict[str, Any], docs: list[dict[str, Any]], binary: Path, workdir: Path
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """kubeconform of the ``docs`` whose kind the cluster serves, with schemas from ``openapi``:
    (the docs checked, the report)."""
    served = served_kinds(openapi)
    checked = [m for m in docs if (m["apiVersion"], m["kind"]) in served]
    schemas = workdir / f"schemas-{uuid.uuid4().hex[:6]}"
    write_schemas(openapi, schemas, {(m["apiVersion"], m["kind"]) for m in checked})
    return checked, kubeconform(binary, schemas, checked, workdir)
