"""The package layout holds (docs/architecture.md): imports run downward only, no cycles, small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "speakup"
MAX_LINES = 400

# Lowest first; a module may import its own layer or a lower one. web and cli share a rank but never meet.
LAYERS = {
    "speakup.crypto": 0,
    "speakup.platform": 1,
    "speakup.ops": 2,
    "speakup.keys": 3,
    "speakup.domain": 4,
    "speakup.reporting": 5,
    "speakup.web": 6,
    "speakup.cli": 6,
    "speakup": 7,  # the app factory and its settings
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


# Alembic's migrations are scripts it loads by path, not modules of the package: generated, never imported.
MODULES = {
    module_name(path): path for path in sorted(PACKAGE.rglob("*.py")) if PACKAGE / "migrations" not in path.parents
}


def layer_of(module: str) -> str:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    raise AssertionError(f"{module} is in no layer")


def imports_of(module: str) -> set[str]:
    """Every speakup module this one imports, at the top or inside a function (both run eventually)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module and name.startswith("speakup"):
                found.add(name)
    return found


def parents(module: str) -> set[str]:
    """A package's __init__ runs before its modules: importing speakup.keys.roster imports speakup.keys too."""
    parts = module.split(".")
    return {".".join(parts[:n]) for n in range(1, len(parts))}


def test_every_import_runs_downward() -> None:
    upward = []
    for module in MODULES:
        mine = layer_of(module)
        for imported in imports_of(module) - parents(module):
            theirs = layer_of(imported)
            if mine == "speakup":
                continue
            if LAYERS[theirs] > LAYERS[mine] or (LAYERS[theirs] == LAYERS[mine] and theirs != mine):
                upward.append(f"{module} imports {imported}")
    assert upward == []


def test_nothing_imports_the_web_layer_but_the_app_factory() -> None:
    importers = {
        module
        for module in MODULES
        if layer_of(module) != "speakup.web" and any(layer_of(i) == "speakup.web" for i in imports_of(module))
    }
    assert importers == {"speakup"}


# What the pages and the API may reach: the domain (and reporting) for every rule and every record of it, platform
# for typed input, uploads, limits and the rows a domain call hands back. Never keys, crypto or ops underneath: who
# holds which key, how it is opened and what is audited are the domain's to decide (docs/architecture.md, Views).
WEB_MAY_IMPORT = {"speakup.web", "speakup.reporting", "speakup.domain", "speakup.platform"}


def test_web_reaches_keys_crypto_and_ops_only_through_the_domain() -> None:
    reaching = sorted(
        f"{module} imports {imported}"
        for module in MODULES
        if layer_of(module) == "speakup.web"
        for imported in imports_of(module)
        if layer_of(imported) not in WEB_MAY_IMPORT
    )
    assert reaching == []


def test_the_domain_reads_its_settings_from_the_settings_object() -> None:
    """speakup.platform.config.settings(), never Flask's current_app (its config, or anything else on it); the keys
    and ops below it may keep per-app state on current_app.extensions, but read settings the same way."""
    reading = []
    for module, path in MODULES.items():
        layer = layer_of(module)
        if layer not in ("speakup.domain", "speakup.reporting", "speakup.keys", "speakup.ops"):
            continue
        tree = ast.parse(path.read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
        if "current_app" in names and layer in ("speakup.domain", "speakup.reporting"):
            reading.append(f"{module} imports current_app")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("config", "instance_path")
                and isinstance(node.value, ast.Name)
                and node.value.id == "current_app"
            ):
                reading.append(f"{module} reads current_app.{node.attr}")
    assert reading == []


def test_no_import_cycle() -> None:
    graph = {module: imports_of(module) - parents(module) - {"speakup"} for module in MODULES}
    state: dict[str, int] = {}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                cycles.append(" -> ".join([*path[path.index(imported) :], imported]))
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = 2

    for module in MODULES:
        if module not in state:
            visit(module, [module])
    # A package that imports its own modules to register them (speakup.web.guardian) is not a cycle of design.
    assert [c for c in cycles if not c.startswith("speakup.web.guardian -> speakup.web.guardian.")] == []


def test_crypto_knows_nothing_of_flask_or_the_database() -> None:
    for module, path in MODULES.items():
        if layer_of(module) != "speakup.crypto":
            continue
        tree = ast.parse(path.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {name.split(".")[0] for name in imported} & {"flask", "flask_sqlalchemy", "sqlalchemy"}, module


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_small_enough_to_read_in_one_sitting(module: str) -> None:
    assert len(MODULES[module].read_text().splitlines()) < MAX_LINES


TESTS = PACKAGE.parent / "tests"


def test_tests_share_only_tests_support() -> None:
    """No test module imports another test module or conftest: what they share lives in tests/support/."""
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            offenders += [
                f"{path.relative_to(TESTS)} imports {name}"
                for name in names
                if name.split(".")[0].startswith(("test_", "conftest"))
            ]
    assert offenders == []
