"""The README and docs/ point only at things that are there, and the README stays a front door."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(md):
    """GitHub's anchors for a Markdown file's headings."""
    out = set()
    for line in md.read_text().splitlines():
        m = re.match(r"#+ (.*)", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(slug)
    return out


def test_every_local_link_and_anchor_exists():
    broken = []
    for md in DOCS:
        text = re.sub(r"```.*?```", "", md.read_text(), flags=re.S)
        for target in LINK.findall(text):
            if re.match(r"[a-z]+://|mailto:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (md.parent / path).resolve() if path else md
            if not dest.exists():
                broken.append(f"{md.relative_to(ROOT)} -> {target}")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{md.relative_to(ROOT)} -> {target} (no such heading)")
    assert not broken, "links to nothing:\n" + "\n".join(broken)


def test_no_file_points_outside_the_repository_for_its_docs():
    """The contract lives in docs/engine-api.md; nothing refers to a document outside the tree."""
    hits = []
    for path in list(ROOT.glob("engine/**/*.py")) + list(ROOT.glob("workbench/**/*.py")) + DOCS:
        if "../shared/" in path.read_text() or "ENGINE_API.md" in path.read_text():
            hits.append(str(path.relative_to(ROOT)))
    assert not hits


def test_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200
    text = "\n".join(lines)
    assert "pip install -e . && convnet-workbench" in text
    assert "pip install -e '.[test]' && pytest" in text


def test_every_python_dash_m_command_the_docs_name_runs_something():
    """``python -m NAME`` in the docs and docstrings names a module, or a package with a ``__main__``
    (``workbench.bench`` became a package and its command stopped working)."""
    import importlib.util
    texts = [p.read_text() for p in DOCS]
    texts += [p.read_text() for p in list(ROOT.glob("engine/**/*.py")) + list(ROOT.glob("workbench/**/*.py"))]
    names = {m for t in texts for m in re.findall(r"python -m ((?:engine|workbench)(?:\.\w+)*)", t)}
    assert "workbench.bench" in names and "engine" in names
    missing = []
    for name in sorted(names):
        spec = importlib.util.find_spec(name)
        if spec is None or (spec.submodule_search_locations is not None
                            and importlib.util.find_spec(name + ".__main__") is None):
            missing.append(name)
    assert not missing, f"`python -m` of these runs nothing: {missing}"
