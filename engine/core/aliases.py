"""Old import paths, kept for one release: ``import engine.session`` is ``engine.runs.session_folder``.

The modules moved into folders that say what they hold (docs/architecture.md). An old name
imports the same module object as the new one (never a second copy), and ``python -m`` works
with an old name too.
"""
import importlib
import importlib.abc
import importlib.util
import sys


class Aliases(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, table):
        self.table = dict(table)
        self._specs = {}

    def find_spec(self, name, path=None, target=None):
        if name not in self.table:
            return None
        real = importlib.util.find_spec(self.table[name])
        spec = importlib.util.spec_from_loader(name, self, is_package=real.submodule_search_locations is not None)
        return spec

    def create_module(self, spec):
        module = importlib.import_module(self.table[spec.name])
        self._specs[module.__name__] = module.__spec__
        return module

    def exec_module(self, module):
        # the import system set the alias's spec on the real module: give it back its own
        module.__spec__ = self._specs.pop(module.__name__, module.__spec__)

    def get_code(self, name):  # ``python -m old.name``
        real = importlib.util.find_spec(self.table[name])
        return real.loader.get_code(real.name)


def install(table, package):
    """Make the old names in ``table`` importable, and return the package's ``__getattr__``
    (``engine.spec`` after ``import engine``, as before)."""
    if not any(isinstance(f, Aliases) and f.table == table for f in sys.meta_path):
        sys.meta_path.insert(0, Aliases(table))

    def __getattr__(name):
        if f"{package}.{name}" in table:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
