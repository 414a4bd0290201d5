# SPDX-License-Identifier: GPL-3.0-or-later
"""The Kubernetes renderers' imports (plugins/module_utils/k8s_*.py): no cycle, no import inside a
function to dodge one, no ``_private`` name taken from another file, one value per label name.

The shared pieces are k8s_common's; the layer that calls the app, database and backup renderers
is k8s_render (docs in both modules). ../shared/STYLE.md, "Lessons from our own code".
"""

from __future__ import annotations

import ast
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils import (
    k8s_common,
    k8s_logging,
    k8s_monitoring,
    monitoring,
)

ROOT = Path(__file__).resolve().parents[2]
MODULE_UTILS = ROOT / "plugins" / "module_utils"
PACKAGE = "ansible_collections.opsdeck.platform.plugins.module_utils"
K8S = sorted(p.stem for p in MODULE_UTILS.glob("k8s_*.py"))
# Optional client libraries, imported where they are used (a module without them still renders).
OPTIONAL = ("kubernetes",)
# Private names of modules outside the k8s renderers that they still read; database.py is to make
# them public (issue 19). Listed exactly: the test fails when one goes away, so the entry goes too.
KNOWN_PRIVATE: set[tuple[str, str, str]] = set()


def _tree(stem: str) -> ast.Module:
    return ast.parse((MODULE_UTILS / f"{stem}.py").read_text(encoding="utf-8"))


def _ours(module: str | None) -> str | None:
    """The module_utils module (dotted below module_utils) that an absolute import names, or None."""
    if module and module.startswith(PACKAGE + "."):
        return module[len(PACKAGE) + 1 :]
    return None


def _imports(stem: str) -> list[tuple[ast.AST, str, list[ast.alias]]]:
    """(node, module_utils module, names) of every import of ours in ``stem``, at any depth."""
    out = []
    for node in ast.walk(_tree(stem)):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            target = _ours(node.module)
            if target is None and node.module == PACKAGE:
                # from <module_utils> import k8s_backup as kb: the names are modules
                out += [(node, alias.name, []) for alias in node.names]
            elif target is not None:
                out.append((node, target, node.names))
        elif isinstance(node, ast.Import):
            out += [(node, _ours(alias.name), []) for alias in node.names if _ours(alias.name)]
    return out


def _graph() -> dict[str, set[str]]:
    return {stem: {target for _node, target, _names in _imports(stem) if target in K8S} for stem in K8S}


def test_the_renderers_are_found() -> None:
    assert {"k8s_common", "k8s_manifests", "k8s_databases", "k8s_backup", "k8s_render"} <= set(K8S)


@pytest.mark.parametrize("stem", K8S)
def test_no_private_name_is_imported_from_another_file(stem: str) -> None:
    found = [
        f"{stem}.py:{node.lineno}: imports {alias.name} from {target}"
        for node, target, names in _imports(stem)
        for alias in names
        if alias.name.startswith("_")
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("stem", K8S)
def test_no_private_name_is_read_from_another_module(stem: str) -> None:
    """``import x as m`` then ``m._name``: the same as importing ``_name``."""
    aliases = {
        (alias.asname or alias.name): alias.name
        for node in ast.walk(_tree(stem))
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == PACKAGE
        for alias in node.names
    }
    read = {
        (stem, aliases[node.value.id], node.attr)
        for node in ast.walk(_tree(stem))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in aliases
        and node.attr.startswith("_")
    }
    known = {entry for entry in KNOWN_PRIVATE if entry[0] == stem}
    assert read == known, (
        f"private names read from other modules: {sorted(read - known)}; fixed: {sorted(known - read)}"
    )


@pytest.mark.parametrize("stem", K8S)
def test_no_import_inside_a_function(stem: str) -> None:
    """Imports of ours are at module level; only the optional client libraries may wait."""
    found = []
    for scope in ast.walk(_tree(stem)):
        if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for node in ast.walk(scope):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found += [
                f"{stem}.py:{node.lineno}: {name} imported inside {scope.name}"
                for name in names
                if name.split(".")[0] not in OPTIONAL
            ]
    assert not found, "\n".join(found)


def test_the_import_graph_has_no_cycle() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(stem: str, path: list[str]) -> None:
        if stem in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(stem) :], stem]))
        if stem in done:
            return
        for target in sorted(graph[stem]):
            visit(target, [*path, stem])
        done.add(stem)

    for stem in K8S:
        visit(stem, [])


def test_k8s_common_imports_no_renderer() -> None:
    assert _graph()["k8s_common"] == set()


def test_the_renderers_import_the_common_module() -> None:
    graph = _graph()
    for stem in ("k8s_manifests", "k8s_databases", "k8s_backup", "k8s_logging", "k8s_monitoring", "k8s_release"):
        assert "k8s_common" in graph[stem], stem


# Each module imported first in a fresh interpreter, then the others: a cycle broken only by the
# order of imports fails one of these. Two whole orders more, sorted and reversed.
ORDERS = [[first, *(s for s in K8S if s != first)] for first in K8S] + [K8S, K8S[::-1]]


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o[:1]) + f"-{i}" for i, o in enumerate(ORDERS)])
def test_the_modules_import_in_any_order(order: list[str]) -> None:
    code = "import importlib\n" + "".join(f"importlib.import_module({PACKAGE + '.' + s!r})\n" for s in order)
    env = {**os.environ, "PYTHONPATH": str(ROOT / ".collections"), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr


def _label_constants() -> dict[str, dict[str, object]]:
    """Per module, the LABEL_* constants it has (defined or imported) at run time."""
    modules = {stem: __import__(f"{PACKAGE}.{stem}", fromlist=["_"]) for stem in K8S}
    return {
        stem: {name: value for name, value in vars(mod).items() if name.startswith("LABEL_")}
        for stem, mod in modules.items()
    }


def test_a_label_name_has_one_value_in_every_module() -> None:
    constants = _label_constants()
    found = []
    for (one, a), (other, b) in itertools.combinations(constants.items(), 2):
        found += [
            f"{name}: {a[name]!r} in {one}, {b[name]!r} in {other}"
            for name in sorted(set(a) & set(b))
            if a[name] != b[name]
        ]
    assert not found, "\n".join(found)


def test_label_names_are_defined_in_k8s_common_only() -> None:
    found = [
        f"{stem}.py:{node.lineno}: {target.id}"
        for stem in K8S
        if stem != "k8s_common"
        for node in ast.walk(_tree(stem))
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name) and target.id.startswith("LABEL_")
    ]
    assert not found, "define label names in k8s_common:\n" + "\n".join(found)


def test_one_name_per_label() -> None:
    by_value: dict[object, list[str]] = {}
    for name, value in _label_constants()["k8s_common"].items():
        by_value.setdefault(value, []).append(name)
    assert {v: n for v, n in by_value.items() if len(n) > 1} == {}


def test_the_two_component_labels_keep_their_values() -> None:
    """The values every rendered object has carried: a change would re-label (and re-select) them."""
    assert k8s_common.LABEL_COMPONENT == "app.kubernetes.io/component"
    assert k8s_common.LABEL_OPSDECK_COMPONENT == "opsdeck.io/component"


def test_the_prometheus_duration_is_the_monitoring_one() -> None:
    """One duration rule: the renderers import monitoring.py's."""
    assert not hasattr(k8s_common, "PROMETHEUS_DURATION")
    assert k8s_logging.PROMETHEUS_DURATION is monitoring.PROMETHEUS_DURATION
    assert k8s_monitoring.check_prometheus_duration is monitoring.check_prometheus_duration
