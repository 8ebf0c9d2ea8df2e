"""The layout's promises, checked on the source: data flows one way, commands and flows stay thin,
read models are views, and nothing grows past what a newcomer can read in one sitting.

The limits are the architecture issue's: no function over 80 lines and at most 5 of 60+, at most
2 modules over 600 lines, at most 4 multi-line read queries in Python outside analytics/, at most 5
names imported from flow modules by non-flow code (none from orchestrator/commands/).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("analytics", "common", "deployments", "flows", "orchestrator", "sandbox", "tasks")
OURS = set(PACKAGES)

# What each layer may import of ours (DESIGN.md's layout table; `common` sits at the bottom).
MAY_IMPORT = {
    "common": set(),
    "analytics": {"common"},
    "tasks": {"common", "analytics"},
    "flows": {"common", "analytics", "tasks"},
    "deployments": {"common", "flows"},
    "sandbox": {"common"},  # registers itself so a missing token is allowed against it
    "orchestrator": {"common", "analytics", "tasks", "flows", "deployments", "sandbox"},
}


def sources() -> dict[Path, ast.Module]:
    files = sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))
    return {path: ast.parse(path.read_text(encoding="utf-8")) for path in files}


SOURCES = sources()


def package_of(path: Path) -> str:
    return path.relative_to(ROOT).parts[0]


def imported_modules(tree: ast.Module) -> list[tuple[str, list[str]]]:
    """(module, names) of every import, at any depth (lazy imports count too)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


def functions(tree: ast.Module) -> list[tuple[str, int]]:
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_each_layer_imports_only_the_layers_below_it(package):
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, tree in SOURCES.items()
        if package_of(path) == package
        for module, _ in imported_modules(tree)
        if module.split(".")[0] in OURS - {package} - MAY_IMPORT[package]
    ]
    assert wrong == []


def test_no_function_is_longer_than_80_lines_and_at_most_5_reach_60():
    lengths = [(f"{path.relative_to(ROOT)}:{name}", n) for path, tree in SOURCES.items() for name, n in functions(tree)]
    assert [item for item in lengths if item[1] > 80] == []
    assert len([item for item in lengths if item[1] >= 60]) <= 5, sorted(item for item in lengths if item[1] >= 60)


def test_at_most_two_modules_are_over_600_lines():
    big = [str(path.relative_to(ROOT)) for path in SOURCES if len(path.read_text().splitlines()) > 600]
    assert len(big) <= 2, big


def test_read_models_are_views_not_sql_strings_in_python():
    query = re.compile(r"\bSELECT\b[\s\S]*\bFROM\b", re.IGNORECASE)
    strings = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, tree in SOURCES.items()
        if package_of(path) != "analytics"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" in node.value
        and query.search(node.value)
    ]  # fmt: skip
    assert len(strings) <= 4, strings


def test_flow_modules_lend_little_besides_their_flows():
    flow_names = {
        (f"flows.{path.stem}", node.name)
        for path, tree in SOURCES.items()
        if package_of(path) == "flows"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any("flow" in ast.unparse(d) for d in node.decorator_list)
    }
    borrowed = {
        (module, name)
        for path, tree in SOURCES.items()
        if not str(path.relative_to(ROOT)).startswith(f"flows{'/'}")
        or path.stem == "__init__"
        for module, names in imported_modules(tree)
        if module.startswith("flows.")
        for name in names
        if (module, name) not in flow_names
    }
    assert len(borrowed) <= 5, sorted(borrowed)
    by_commands = [
        f"{path.relative_to(ROOT)} borrows {module}.{name}"
        for path, tree in SOURCES.items()
        if "commands" in path.parts
        for module, names in imported_modules(tree)
        if module.startswith("flows.")
        for name in names
        if (module, name) not in flow_names
    ]
    assert by_commands == []
    from_commands = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, tree in SOURCES.items()
        for module, _ in imported_modules(tree)
        if module.startswith("orchestrator.commands") and "commands" not in path.parts
        and path.name != "cli.py"
    ]  # fmt: skip
    assert from_commands == []


def test_the_sandbox_is_its_own_package_and_the_product_never_imports_it():
    assert not (ROOT / "orchestrator" / "sandbox").exists()
    product = {"analytics", "common", "deployments", "flows", "tasks"}
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, tree in SOURCES.items()
        if package_of(path) in product
        for module, _ in imported_modules(tree)
        if module.split(".")[0] == "sandbox"
    ]
    assert wrong == []


def test_readme_layout_names_every_top_level_package():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1]
    assert [p for p in PACKAGES if f"`{p}/`" not in layout] == []
