"""The import map of ``opsadmin/``, read with ``ast``: no circles, features below the composition.

Every import counts, at module level and inside functions alike: a function-level import is a
dependency that is only hidden, not absent. Layers, bottom up:

- core: ``config``, ``db``, ``extensions``, ``errors``, ``settings``, ``console``, ``validation``,
  ``schemas``, ``models``, ``jobs`` (the queue plumbing: it names no feature);
- features: ``auth``, ``audit``, ``locations``, ``rooms``, ``staff``, ``referrals``, ``bookings``,
  ``notifications``, ``events``, ``reports``, ``demo``;
- composition: ``api``, ``admin``, ``jobs.schedule``, ``cli``, ``app``, ``__main__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "opsadmin"
FEATURES = (
    "auth",
    "audit",
    "locations",
    "rooms",
    "staff",
    "referrals",
    "bookings",
    "notifications",
    "events",
    "reports",
    "demo",
)
COMPOSITION = ("api", "admin", "jobs.schedule", "cli", "app", "__main__")
LEAVES = ("auth", "audit")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def runtime_nodes(tree: ast.AST):
    """Every node except the bodies of ``if TYPE_CHECKING:`` (annotations only, never run)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test).endswith("TYPE_CHECKING"):
                todo.extend(child.orelse)
            else:
                todo.append(child)


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The opsadmin modules ``name`` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # ``from package import module`` names the module; ``from module import name``
            # names the module (the package's __init__ runs too, but that is no edge of ours).
            targets = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t if t in known else base for t in targets]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(edges.get(start, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(edges.get(node, ()))
    return seen


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each group of modules that import each other, directly or around a loop."""
    reach = {node: reachable(edges, node) for node in edges}
    groups = {
        tuple(sorted(other for other in reach[node] if node in reach[other]))
        for node in edges
        if node in reach[node]
    }
    return sorted(list(group) for group in groups)


def within(module: str, area: str) -> bool:
    full = f"opsadmin.{area}"
    return module == full or module.startswith(f"{full}.")


def test_the_import_map_has_no_circle():
    # A package's __init__ importing its own submodules is not a circle worth the name, but
    # there is none left either: every edge counts.
    assert cycles(graph()) == []


def test_no_feature_imports_the_composition():
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in graph().items()
        if any(within(module, feature) for feature in FEATURES)
        for target in targets
        if any(within(target, area) for area in COMPOSITION)
    )
    assert wrong == []


def test_auth_and_audit_are_leaves_among_the_features():
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in graph().items()
        if any(within(module, leaf) for leaf in LEAVES)
        for target in targets
        if any(within(target, feature) for feature in FEATURES)
        and not any(within(target, leaf) for leaf in LEAVES)
    )
    assert wrong == []


def test_the_core_imports_no_feature_and_no_composition():
    # The console's base views sit on the two leaves: sessions (auth) and export records (audit).
    allowed = {"opsadmin.console": LEAVES}
    core = [
        module
        for module in graph()
        if not any(within(module, area) for area in (*FEATURES, *COMPOSITION))
        and module not in ("opsadmin", "opsadmin.models")
    ]
    edges = graph()
    wrong = sorted(
        f"{module} -> {target}"
        for module in core
        for target in edges[module]
        if any(within(target, area) for area in (*FEATURES, *COMPOSITION))
        and not any(within(target, area) for area in allowed.get(module, ()))
    )
    assert wrong == []


def test_no_feature_reaches_into_another_features_console_views():
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in graph().items()
        for target in targets
        if target.endswith(".admin")
        and target != "opsadmin.admin"
        and module.rpartition(".")[0] != target.rpartition(".")[0]
        and not within(module, "admin")
    )
    assert wrong == []


def test_the_walker_sees_function_level_imports():
    edges = graph()
    # opsadmin/__init__.py imports the factory inside a function only.
    assert "opsadmin.app" in edges["opsadmin"]


def test_the_features_rules_form_a_dag_of_packages():
    # bookings may read referrals, referrals never bookings (and so on down the README's map).
    # Console views (admin.py) may look across, as a page shows what several features know.
    def feature(module: str) -> str | None:
        parts = module.split(".")
        return parts[1] if len(parts) > 2 and parts[1] in FEATURES else None

    edges: dict[str, set[str]] = {}
    for module, targets in graph().items():
        if feature(module) and not module.endswith(".admin"):
            for target in targets:
                if feature(target) and feature(target) != feature(module):
                    edges.setdefault(feature(module), set()).add(feature(target))
    assert cycles(edges) == []
