#!/usr/bin/env python3
"""The import check: the crate's map of capabilities stays a map, not a circle.

Reads every `crate::…`, `super::…`, `self::…` and child-module path in each file (test modules at
the end of a file left out) and resolves it to the deepest module it names. Modules are grouped
into units: each folder (or file) directly under `src/server/` is one capability, and `app`,
`wire` and `shared` are one each. It fails (exit 1) on

  - any import circle between units (a unit's own files may use each other), and
  - any server file but the router and the page shell importing from `app/`.

It also prints, for information, the module pairs that import each other and the circles between
single modules. `scripts/test` runs it.

    python3 scripts/check_imports.py [SRC_DIR]
"""
import re
import sys
from pathlib import Path

src = Path(sys.argv[1] if len(sys.argv) > 1 else "src")


def module_of(path: Path) -> tuple:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


files = {module_of(p): p for p in sorted(src.rglob("*.rs"))}
modules = set(files)
PATH = re.compile(r"\b(crate|super|self)((?:::\w+)+|::\{)")
CHILD_USE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+(\w+)::", re.M)


def resolve(start: tuple, words: list) -> tuple | None:
    """The deepest existing module that a path starting at `start` followed by `words` names."""
    here = list(start)
    best = None
    for word in words:
        if word == "super":
            here = here[:-1]
            continue
        here = here + [word]
        if tuple(here) in modules:
            best = tuple(here)
        else:
            break
    return best


def brace_items(text: str, open_at: int) -> list:
    """Top-level items of the use tree whose `{` is at `open_at`: each item's leading path."""
    depth, item, items = 0, "", []
    for ch in text[open_at:]:
        if ch == "{":
            depth += 1
            if depth == 1:
                continue
        elif ch == "}":
            depth -= 1
            if depth == 0:
                items.append(item)
                break
        if depth == 1 and ch == ",":
            items.append(item)
            item = ""
        elif depth >= 1:
            item += ch
    return [re.findall(r"\w+", i) for i in items if i.strip()]


edges: dict = {m: set() for m in modules}
for module, path in files.items():
    text = path.read_text()
    text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
    # A file's own `super` is its parent module; a mod.rs's `self` is itself.
    for match in PATH.finditer(text):
        root, rest = match.group(1), match.group(2)
        start = () if root == "crate" else (module[:-1] if root == "super" else module)
        prefixes = [w for w in rest.split("::") if w and w != "{"]
        trees = [prefixes]
        if rest.endswith("{") or text[match.end():match.end() + 3].startswith("::{"):
            brace = text.index("{", match.end() - 1)
            trees = [prefixes + item for item in brace_items(text, brace)]
        for words in trees:
            target = resolve(start, words)
            if target is not None and target != module and not module[: len(target)] == target:
                edges[module].add(target)
    for child in CHILD_USE.findall(text):
        target = module + (child,)
        if target in modules:
            edges[module].add(target)


def sccs(graph: dict) -> list:
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            out.append(component)

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


name = lambda m: "::".join(m) or "crate"
# The two server files whose job is to know the app: they mount it and render its document.
MAY_IMPORT_APP = {("server", "web", "router"), ("server", "web", "shell")}


def unit(module: tuple) -> tuple:
    return module[:2] if module[:1] == ("server",) else module[:1]


pairs = sorted(
    {tuple(sorted((a, b))) for a in edges for b in edges[a] if a in edges.get(b, ())}
)
components = sccs(edges)
units = {unit(m) for m in modules}
unit_edges: dict = {u: set() for u in units}
for a in edges:
    for b in edges[a]:
        if unit(a) != unit(b):
            unit_edges[unit(a)].add(unit(b))
unit_circles = sccs(unit_edges)
app_imports = sorted(
    (a, b) for a in edges for b in edges[a]
    if a[:1] == ("server",) and b[:1] == ("app",) and a not in MAY_IMPORT_APP
)

print(f"modules: {len(modules)}, imports between them: {sum(map(len, edges.values()))}")
print(f"units (capability folders): {len(units)}, imports between them: "
      f"{sum(map(len, unit_edges.values()))}")
print(f"modules importing each other (information): {len(pairs)}")
for a, b in pairs:
    print(f"  {name(a)} <-> {name(b)}")
print(f"module circles (information): {len(components)}")
for component in components:
    print(f"  {len(component)} modules: " + ", ".join(sorted(map(name, component))))
print(f"circles between units: {len(unit_circles)}")
for circle in unit_circles:
    members = set(circle)
    print(f"  {len(circle)} units: " + ", ".join(sorted(map(name, circle))))
    for a in sorted(members):
        for m in sorted(edges):
            if unit(m) == a:
                for b in sorted(edges[m]):
                    if unit(b) in members and unit(b) != a:
                        print(f"    {name(m)} -> {name(b)}")
print(f"server files importing app/ (only the router and the page shell may): {len(app_imports)}")
for a, b in app_imports:
    print(f"  {name(a)} -> {name(b)}")
if unit_circles or app_imports:
    print("import check: FAILED")
    sys.exit(1)
print("import check: passed")
