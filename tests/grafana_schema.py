# SPDX-License-Identifier: GPL-3.0-or-later
"""Grafana's file formats as JSON Schemas, written from Grafana's documentation, for the tests.

Grafana cannot run on the machines this collection is tested on (AGPL: its image and its source
are refused), so what the monitoring role writes for it is checked against what Grafana documents
instead of being loaded by a Grafana:

- provisioning of data sources and of dashboard providers: "Provision Grafana"
  (https://grafana.com/docs/grafana/latest/administration/provisioning/), the keys of its
  commented examples (``apiVersion: 1``; ``datasources``, ``deleteDatasources``, ``prune``;
  ``providers`` with ``options.path``). Unknown keys are refused: Grafana ignores them silently,
  which is how a typo goes unnoticed;
- the dashboard JSON model: "JSON model" (https://grafana.com/docs/grafana/latest/dashboards/
  build-dashboards/view-dashboard-json-model/), its top-level keys, panels with ``gridPos`` and
  ``targets``, template variables.

``promql_queries`` lists every PromQL query of a dashboard (panel targets, and the series of
``label_values()`` variables) with Grafana's variables replaced by values a test can run.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema

_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_INT = {"type": "integer"}
_DS_REF = {
    "type": "object",
    "required": ["type", "uid"],
    "properties": {"type": _STR, "uid": _STR},
    "additionalProperties": False,
}

DATASOURCES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "datasources"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": 1},
        "prune": _BOOL,
        "deleteDatasources": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": _STR, "orgId": _INT},
                "additionalProperties": False,
            },
        },
        "datasources": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "type"],
                "additionalProperties": False,
                "properties": {
                    "name": _STR,
                    "type": _STR,
                    "access": {"enum": ["proxy", "direct"]},
                    "orgId": _INT,
                    "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
                    "url": {"type": "string", "pattern": "^https?://"},
                    "user": _STR,
                    "database": _STR,
                    "basicAuth": _BOOL,
                    "basicAuthUser": _STR,
                    "withCredentials": _BOOL,
                    "isDefault": _BOOL,
                    "jsonData": {"type": "object"},
                    "secureJsonData": {"type": "object"},
                    "version": _INT,
                    "editable": _BOOL,
                },
            },
        },
    },
}

DASHBOARD_PROVIDERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "providers"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": 1},
        "providers": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "options"],
                "additionalProperties": False,
                "properties": {
                    "name": _STR,
                    "orgId": _INT,
                    "folder": _STR,
                    "folderUid": _STR,
                    "type": {"const": "file"},
                    "disableDeletion": _BOOL,
                    "updateIntervalSeconds": _INT,
                    "allowUiUpdates": _BOOL,
                    "options": {
                        "type": "object",
                        "required": ["path"],
                        "additionalProperties": False,
                        "properties": {"path": {"type": "string", "pattern": "^/"}, "foldersFromFilesStructure": _BOOL},
                    },
                },
            },
        },
    },
}

DASHBOARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["uid", "title", "panels", "schemaVersion"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": ["integer", "null"]},
        "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
        "title": {"type": "string", "minLength": 1},
        "description": _STR,
        "tags": {"type": "array", "items": _STR},
        "timezone": _STR,
        "editable": _BOOL,
        "graphTooltip": _INT,
        "time": {
            "type": "object",
            "required": ["from", "to"],
            "properties": {"from": _STR, "to": _STR},
            "additionalProperties": False,
        },
        "timepicker": {"type": "object"},
        "refresh": {"type": ["string", "boolean"]},
        "schemaVersion": {"type": "integer", "minimum": 36},
        "version": _INT,
        "links": {"type": "array"},
        "annotations": {"type": "object", "properties": {"list": {"type": "array"}}},
        "fiscalYearStartMonth": _INT,
        "liveNow": _BOOL,
        "weekStart": _STR,
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {
                "list": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "type"],
                        "properties": {
                            "name": {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"},
                            "type": {
                                "enum": ["query", "custom", "constant", "datasource", "interval", "textbox", "adhoc"]
                            },
                            "datasource": _DS_REF,
                            "query": {"type": ["object", "string"]},
                            "definition": _STR,
                            "refresh": {"enum": [0, 1, 2]},
                            "includeAll": _BOOL,
                            "multi": _BOOL,
                        },
                    },
                }
            },
        },
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos", "targets"],
                "properties": {
                    "id": _INT,
                    "type": _STR,
                    "title": _STR,
                    "description": _STR,
                    "gridPos": {
                        "type": "object",
                        "required": ["h", "w", "x", "y"],
                        "properties": {
                            "h": {"type": "integer", "minimum": 1},
                            "w": {"type": "integer", "minimum": 1, "maximum": 24},
                            "x": {"type": "integer", "minimum": 0, "maximum": 23},
                            "y": {"type": "integer", "minimum": 0},
                        },
                        "additionalProperties": False,
                    },
                    "datasource": _DS_REF,
                    "fieldConfig": {
                        "type": "object",
                        "properties": {"defaults": {"type": "object"}, "overrides": {"type": "array"}},
                    },
                    "options": {"type": "object"},
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["refId", "expr"],
                            "properties": {
                                "refId": {"type": "string", "minLength": 1},
                                "expr": {"type": "string", "minLength": 1},
                                "legendFormat": _STR,
                                "datasource": _DS_REF,
                                "instant": _BOOL,
                                "range": _BOOL,
                            },
                        },
                    },
                },
            },
        },
    },
}


def problems(instance: Any, schema: dict[str, Any]) -> list[str]:
    """Every schema violation, as ``path: message`` lines (empty when the instance is valid)."""
    validator = jsonschema.Draft202012Validator(schema)
    return sorted(
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(instance)
    )


# A value a test can run for each of Grafana's variables the dashboards use.
VARIABLE_VALUES = {"app": "shop", "instance": ".+"}
_LABEL_VALUES_RE = re.compile(r"^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$")


def promql_queries(dashboard: dict[str, Any], values: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """``(where, PromQL)`` of every query of the dashboard, its ``$variables`` replaced."""
    values = {**VARIABLE_VALUES, **(values or {})}

    def substitute(expr: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name not in values:
                raise KeyError(f"no test value for the Grafana variable ${name} in {expr!r}")
            return values[name]

        return re.sub(r"\$\{([a-zA-Z_][a-zA-Z0-9_]*)\}|\$([a-zA-Z_][a-zA-Z0-9_]*)", one, expr)

    out = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            out.append((f"{dashboard['uid']}: {panel['title']} ({target['refId']})", substitute(target["expr"])))
    for var in (dashboard.get("templating") or {}).get("list") or []:
        query = var.get("query")
        text = query.get("query") if isinstance(query, dict) else query
        match = _LABEL_VALUES_RE.match(text or "")
        if match:
            out.append((f"{dashboard['uid']}: variable ${var['name']}", substitute(match.group(1))))
    return out
