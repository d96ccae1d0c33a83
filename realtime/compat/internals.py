"""The inventory of other packages' internals the product relies on (issue 14), and its checks.

Every private name of another package (python-socketio, python-engineio, daphne, autobahn,
Twisted, channels, channels_redis, rq, ...) that the code reads, writes, overrides or calls is an
`Item` in an app's inventory module (`INVENTORY_MODULES`), with why it is needed, what happens when
it changes and a `check` run against the installed version. Tests (tests/test_internals.py):

  * every item's check passes (a failure names the library, its version and the item);
  * `scan()` finds every private name of another package used in the tree (outside tests), and
    each must be an item; each item must still be used where it says (no stale entries);
  * docs/internals.md is rendered from the items and the scan (docs/tools/render_internals.py).

Adding an item: an `Item(...)` in the app's inventory module (realtime/compat/inventory.py for the
realtime libraries, jobs/compat.py for RQ), with a check built from the helpers below; then
`make docs`. docs/internals.md says more.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
import subprocess
import textwrap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[2]  # the repository (this file: realtime/compat/)

# Modules that define `ITEMS: list[Item]` (one per app that reaches into another package).
INVENTORY_MODULES = ("realtime.compat.inventory", "jobs.compat")

# Our own top-level packages: a class defined in one of them is ours, anything else is a library's.
OWN_PACKAGES = frozenset(
    {"accounts", "automation", "billing", "jobs", "notifications", "ops", "project", "realtime", "testing", "tools"}
)

# Names with a leading underscore that are documented, public API of their library.
DOCUMENTED = {
    "_meta": "Django's Model._meta (the documented Options API)",
    "_replace": "namedtuple._replace (documented; urllib's SplitResult is a namedtuple)",
    "_asdict": "namedtuple._asdict (documented)",
    "_fields": "namedtuple._fields (documented)",
    "_exit": "os._exit (documented)",
}


class Drift(Exception):
    """The installed library no longer has an internal in the shape the product relies on."""


@dataclass(frozen=True)
class Item:
    library: str  # the distribution, as pinned in requirements.txt
    name: str  # dotted path of the internal, e.g. "socketio.AsyncRedisManager._handle_emit"
    use: str  # "overrides", "calls", "reads", "writes", "replaces"
    where: tuple[str, ...]  # our files that use it (repository paths)
    why: str
    breaks: str  # what happens when it changes
    check: Callable[[], None] = field(repr=False)
    fastpath: bool = False  # the fast path relies on it: a failing check turns it off at start
    uses: tuple[str, ...] = ()  # identifiers to find in `where` (default: the name's last part)

    @property
    def attr(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def markers(self) -> tuple[str, ...]:
        return self.uses or (self.attr,)

    @property
    def key(self) -> str:
        return f"{self.library}:{self.name}"


def version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def pinned() -> dict[str, str]:
    """requirements.txt's pins: lower-cased distribution -> version."""
    pins = {}
    for line in (BASE_DIR / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if match:
            pins[match[1].lower()] = match[2]
    return pins


def registry() -> list[Item]:
    items: list[Item] = []
    for name in INVENTORY_MODULES:
        items += importlib.import_module(name).ITEMS
    return items


def problem(item: Item) -> str | None:
    """None when the installed library still has the item in the expected shape, else a message
    naming the library, its version and the item."""
    try:
        item.check()
    except Exception as exc:  # Drift, or anything the check hit (an ImportError, AttributeError)
        detail = str(exc) if isinstance(exc, Drift) else f"{type(exc).__name__}: {exc}"
        return f"{item.library} {version(item.library)}: {item.name} ({item.use}): {detail}"
    return None


# --- check helpers (each raises Drift with what is wrong) ---------------------------------------


def resolve(dotted: str) -> Any:
    """The object at a dotted path: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            if not hasattr(obj, part):
                raise Drift(f"{'.'.join(parts[:cut])} has no {'.'.join(parts[cut:])}")
            obj = getattr(obj, part)
        return obj
    raise Drift(f"cannot import {parts[0]}")


def method(dotted: str, params: Iterable[str], *, coroutine: bool | None = None, asyncgen: bool = False) -> None:
    """`dotted` is a function whose parameters start with `params` (self included)."""
    func = resolve(dotted)
    if not callable(func):
        raise Drift(f"{dotted} is no longer callable")
    expected = list(params)
    try:
        names = list(inspect.signature(func).parameters)
    except (TypeError, ValueError) as exc:
        raise Drift(f"{dotted}: no signature ({exc})") from None
    if names[: len(expected)] != expected:
        raise Drift(f"{dotted} takes ({', '.join(names)}), expected ({', '.join(expected)}, ...)")
    if asyncgen and not inspect.isasyncgenfunction(func):
        raise Drift(f"{dotted} is no longer an async generator")
    if coroutine is not None and inspect.iscoroutinefunction(func) != coroutine:
        raise Drift(f"{dotted} is {'no longer' if coroutine else 'now'} a coroutine function")


def attribute(owner: str, name: str) -> None:
    """The class `owner` has `name`: on the class, or set as `self.name = ...` in its (or a base's) code."""
    cls = resolve(owner)
    if hasattr(cls, name) or name in instance_attributes(cls):
        return
    raise Drift(f"{owner} no longer has the attribute {name}")


def on_instance(make: Callable[[], Any], *names: str) -> None:
    """A real object (built by `make`, with the installed library) has every attribute in `names`."""
    obj = make()
    missing = [n for n in names if not hasattr(obj, n)]
    if missing:
        raise Drift(f"{type(obj).__module__}.{type(obj).__qualname__} instances lack {', '.join(missing)}")


def source_has(dotted: str, *fragments: str) -> None:
    """The code of `dotted` still contains each fragment (for behaviour the product relies on).
    Read from the module's file without importing it when the name is defined there (importing
    daphne.server installs a Twisted reactor), else from the imported object."""
    code = _static_source(dotted) or inspect.getsource(resolve(dotted))
    missing = [f for f in fragments if f not in code]
    if missing:
        raise Drift(f"{dotted} no longer contains {missing!r}")


def _static_source(dotted: str) -> str | None:
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            spec = importlib.util.find_spec(".".join(parts[:cut]))
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        text = Path(spec.origin).read_text()
        body: list[ast.stmt] = ast.parse(text).body
        node: ast.stmt | None = None
        for part in parts[cut:]:
            node = next(
                (
                    n
                    for n in body
                    if isinstance(n, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and n.name == part
                ),
                None,
            )
            if node is None:
                return None
            body = node.body
        return ast.get_source_segment(text, node) if node is not None else None
    return None


def instance_attributes(cls: type) -> set[str]:
    """Names assigned as `self.<name>` in the methods of `cls` and its bases (sources available)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        names |= _assigned_on_self(klass)
    return names


@cache
def _assigned_on_self(klass: type) -> frozenset[str]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
    except (OSError, TypeError, SyntaxError):
        return frozenset()
    return frozenset(
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


# --- the scan: which private names of other packages the code uses ------------------------------


@dataclass(frozen=True)
class Use:
    path: str  # repository path
    line: int
    name: str
    how: str  # "override", "attribute", "string"


def python_files(tests: bool = False) -> list[str]:
    """The repository's Python files (tracked or not ignored), outside migrations; test files
    only when `tests`, else only the others."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = []
    for path in sorted(set(out)):
        parts = path.split("/")
        if "migrations" in parts or "node_modules" in parts or not (BASE_DIR / path).exists():
            continue
        is_test = "tests" in parts or parts[-1] == "conftest.py" or parts[-1].startswith("test_")
        if is_test == tests:
            files.append(path)
    return files


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and len(name) > 1


def _own_names(trees: dict[str, ast.Module], overrides: set[tuple[str, int]]) -> set[str]:
    """Private names our code defines (functions, classes, assignments, parameters), except methods
    that override a library's."""
    names: set[str] = set()
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if (path, node.lineno) not in overrides:
                    names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[0])
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                if isinstance(node.value.value, str) and node.value.value.isidentifier():
                    names.add(node.value.value)  # ATTR = "_name": an attribute name we invent
    return {n for n in names if _private(n)}


def _module_name(path: str) -> str | None:
    parts = path.removesuffix(".py").split("/")
    if parts[0] not in OWN_PACKAGES:
        return None
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _runtime_class(path: str, qualname: str) -> type | None:
    module_name = _module_name(path)
    if module_name is None:
        return None
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception:  # a module that does not import outside its context: names only
        return None
    return obj if isinstance(obj, type) else None


def _is_own(klass: type) -> bool:
    return klass.__module__.split(".")[0] in OWN_PACKAGES


@cache
def library_members(cls: type) -> frozenset[str]:
    """What the library classes among `cls`'s bases define: class members and instance attributes."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if _is_own(klass) or klass is object:
            continue
        names |= set(vars(klass))
        names |= _assigned_on_self(klass)
    return frozenset(names)


def _classes(tree: ast.Module) -> Iterator[tuple[str, ast.ClassDef]]:
    def walk(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, ast.ClassDef]]:
        for node in body:
            if isinstance(node, ast.ClassDef):
                qualname = f"{prefix}{node.name}"
                yield qualname, node
                yield from walk(node.body, qualname + ".")

    yield from walk(tree.body, "")


def _receiver_is_self(node: ast.Attribute) -> bool:
    value = node.value
    if isinstance(value, ast.Name) and value.id in ("self", "cls"):
        return True
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super"


def _imported_library_classes(tree: ast.Module) -> frozenset[str]:
    """The private members of the library classes a module imports by name (`from rq.scheduler
    import RQScheduler`): `obj._x` there is the library's even if our code has an `_x` elsewhere.
    (The library's module is imported, never ours.)"""
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        if node.module.split(".")[0] in OWN_PACKAGES:
            continue
        try:
            module = importlib.import_module(node.module)
        except ImportError:  # an optional dependency that is not installed: nothing to resolve
            continue
        for alias in node.names:
            obj = getattr(module, alias.name, None)
            if isinstance(obj, type) and not _is_own(obj):
                names |= {n for n in library_members(obj) if _private(n)}
    return frozenset(names)


def _string_uses(tree: ast.Module) -> Iterator[ast.Constant]:
    """String constants naming an attribute: arguments of getattr/hasattr/setattr/delattr, or items
    of a literal tuple, list or set (`for a in ("dataBuffer", "_tempDataLen")`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("getattr", "hasattr", "setattr", "delattr") and len(node.args) >= 2:
                yield from (a for a in node.args[1:2] if isinstance(a, ast.Constant))
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            yield from (e for e in node.elts if isinstance(e, ast.Constant))


def scan(tests: bool = False) -> list[Use]:
    """Every use of another package's private name in our code (test files when `tests`).

    Found: a method overriding a library's private method; `self._x` / `super()._x` in a class with
    library bases when a library base defines `_x`; any other `obj._x`, and the string "_x", when
    our code defines no `_x` (or that a library class the file imports or subclasses has: a name
    that is ours elsewhere, `_async`, is found only there). Names in DOCUMENTED are public API. Attributes without an underscore
    that are internals all the same (autobahn's `send_queue`) cannot be told apart: they are items
    by hand, and the test checks they are still used where the item says."""
    trees = _parse(python_files(tests=tests))
    context = {**_parse(python_files()), **trees} if tests else trees  # names the rest defines are ours in tests too
    return scan_trees(trees, context)


def _parse(paths: Iterable[str]) -> dict[str, ast.Module]:
    return {p: ast.parse((BASE_DIR / p).read_text(), p) for p in paths}


def scan_trees(trees: dict[str, ast.Module], context: dict[str, ast.Module] | None = None) -> list[Use]:
    """`scan` over parsed files (path -> tree); `context`: all the code whose names count as ours."""
    trees_all = trees if context is None else context
    uses: list[Use] = []
    overrides: set[tuple[str, int]] = set()
    in_library_class: dict[int, frozenset[str]] = {}  # id(Attribute node) -> the class's library members
    subclassed: dict[str, set[str]] = {}  # path -> private members of the library classes it subclasses
    for path, tree in trees_all.items():
        for qualname, node in _classes(tree):
            if not node.bases:
                continue  # no library base: nothing to import the module for
            cls = _runtime_class(path, qualname)
            if cls is None or all(_is_own(k) or k is object for k in cls.__mro__):
                continue
            members = library_members(cls)
            subclassed.setdefault(path, set()).update(n for n in members if _private(n))
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and _private(item.name):
                    if item.name in members:
                        overrides.add((path, item.lineno))
                        if path in trees:
                            uses.append(Use(path, item.lineno, item.name, "override"))
            for sub in ast.walk(node):
                if isinstance(sub, ast.Attribute) and _receiver_is_self(sub):
                    in_library_class[id(sub)] = members
    own = _own_names(trees_all, overrides)
    for path, tree in trees.items():
        # `obj._x` is the library's when a library class this file imports or subclasses has `_x`
        # (`server._async = ...` on python-engineio's server), even if our code assigns an `_x` too
        imported = _imported_library_classes(tree) | subclassed.get(path, set())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in DOCUMENTED:
                members = in_library_class.get(id(node))
                if members is not None and node.attr in members:
                    uses.append(Use(path, node.lineno, node.attr, "attribute"))
                elif members is None and (node.attr not in own or node.attr in imported):
                    uses.append(Use(path, node.lineno, node.attr, "attribute"))
        for const in () if path in _naming_files() else _string_uses(tree):
            value = const.value
            if isinstance(value, str) and value.isidentifier() and _private(value):
                if value not in DOCUMENTED and (value not in own or value in imported):
                    uses.append(Use(path, const.lineno, value, "string"))
    return sorted(set(uses), key=lambda u: (u.path, u.line, u.name))


def inventory_files() -> frozenset[str]:
    return frozenset(f"{name.replace('.', '/')}.py" for name in INVENTORY_MODULES)


def _naming_files() -> frozenset[str]:
    """Files that name internals in strings on purpose, not to use them: the inventory's checks and
    the scan's own test."""
    return inventory_files() | {"tests/test_internals.py"}


def unregistered(uses: Iterable[Use], items: Iterable[Item]) -> list[Use]:
    """The uses no item covers (same name among its markers, same file among its `where`)."""
    covered = {(path, marker) for item in items for path in item.where for marker in item.markers}
    return [u for u in uses if (u.path, u.name) not in covered]


def locations(item: Item) -> list[tuple[str, int]]:
    """Where our code uses the item: its markers as attributes, definitions or strings in `where`."""
    found: set[tuple[str, int]] = set()
    for path in item.where:
        file = BASE_DIR / path
        if not file.exists():
            continue
        for node in ast.walk(ast.parse(file.read_text(), path)):
            name = None
            if isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = node.name
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and path not in inventory_files():
                name = node.value  # (the inventory's own checks name the internals in strings)
            elif isinstance(node, ast.Name):
                name = node.id
            if name in item.markers:
                found.add((path, node.lineno))
    return sorted(found)
