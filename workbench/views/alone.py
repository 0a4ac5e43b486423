"""Run one place of the window on its own, for development: ``python -m workbench.views.alone PLACE``.

    python -m workbench.views.alone draw             # Draw, on the trained demo network
    python -m workbench.views.alone inspect --untrained

Each place is built on an ``AppSession`` of its own over the bundled MNIST, as the window builds
it; this is the one launcher for that (the Runs place needs the window's session folder, so it
runs in the window only).
"""
import argparse
import importlib
import sys

#: place -> (module, class, window size, method to call once shown)
PLACES = {
    "build": ("workbench.views.build.place", "BuildPlace", (1200, 760), None),
    "train": ("workbench.views.train.place", "TrainPlace", (1200, 760), None),
    "inspect": ("workbench.views.inspect.place", "NetworkView", (1100, 800), None),
    "draw": ("workbench.views.draw.place", "DrawPanel", (900, 560), None),
    "evaluate": ("workbench.views.evaluate.place", "EvaluatePanel", (700, 560), None),
    "map": ("workbench.views.map.place", "EmbeddingMapPlace", (1200, 760), "compute"),
    "data": ("workbench.views.data.place", "DatasetView", (900, 600), None),
}


def make_place(place, session):
    """The widget of ``place`` (a key of ``PLACES``) on ``session``."""
    module, name, _, _ = PLACES[place]
    return getattr(importlib.import_module(module), name)(session)


def run_alone(make_view, size=(900, 600), trained=True, then=None):
    """Show ``make_view(session)`` in its own window on MNIST (with the trained demo network's
    weights unless ``trained`` is False), call ``then(view)`` once shown, and run the app."""
    from PySide6.QtWidgets import QApplication

    from engine.data import load_mnist
    from engine.runs.snapshots import load_snapshot
    from workbench.state.session import AppSession
    from workbench.tasks.opening import TRAINED_DEMO
    from workbench.views import theme
    app = QApplication.instance() or QApplication([])
    theme.apply(app)
    session = AppSession(load_mnist())
    if trained:
        net, meta = load_snapshot(TRAINED_DEMO)
        session.load_snapshot(net, meta.get("preset", "demo"))
    view = make_view(session)
    view.resize(*size)
    view.show()
    if then is not None:
        then(view)
    app.aboutToQuit.connect(session.shutdown)
    return app.exec()


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m workbench.views.alone", description=__doc__.splitlines()[0])
    p.add_argument("place", choices=sorted(PLACES))
    p.add_argument("--untrained", action="store_true", help="fresh weights instead of the trained demo network")
    a = p.parse_args(argv)
    _, _, size, then = PLACES[a.place]
    return run_alone(lambda s: make_place(a.place, s), size, trained=not a.untrained,
                     then=(lambda view: getattr(view, then)()) if then else None)


if __name__ == "__main__":
    sys.exit(main())
