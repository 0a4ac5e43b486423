"""Write docs/architecture.md's project layout from the modules' own docstrings.

    python tools/layout.py          # rewrite the list between the layout markers

Every module is listed by its path with the first sentence of its docstring, grouped by folder,
so the page and the tree cannot drift apart (tests/test_architecture.py checks that every module
is named).
"""
import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
BEGIN = "<!-- layout: written by `python tools/layout.py` from the modules' docstrings -->"
END = "<!-- end of layout -->"


def first_sentence(path):
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    text = " ".join(doc.strip().split("\n\n")[0].split())
    return text


def layout():
    lines = []
    for pkg in ("engine", "workbench"):
        folders = {}
        for p in sorted((ROOT / pkg).rglob("*.py")):
            if "templates" in p.parts or p.name == "__main__.py":
                continue
            folders.setdefault(p.parent, []).append(p)
        for folder in sorted(folders, key=lambda f: f.relative_to(ROOT).as_posix()):
            init = folder / "__init__.py"
            rel = folder.relative_to(ROOT).as_posix() + "/"
            head = first_sentence(init) if init.exists() else ""
            lines.append(f"- `{rel}`" + (f": {head}" if head else ""))
            for p in folders[folder]:
                if p.name == "__init__.py":
                    continue
                lines.append(f"  - `{p.relative_to(ROOT).as_posix()}`: {first_sentence(p)}")
    return "\n".join(lines) + "\n"


def main():
    text = DOC.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        print(f"{DOC}: no layout markers", file=sys.stderr)
        return 2
    DOC.write_text(text[:start + len(BEGIN)] + "\n\n" + layout() + "\n" + text[end:])
    print(f"wrote the layout into {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
