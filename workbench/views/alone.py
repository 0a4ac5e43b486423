"""Run one view on its own, on the trained demo network: ``python -m workbench.views.<place>.<view>``."""


def run_alone(make_view, size=(900, 600), trained=True, then=None):
    """Show ``make_view(session)`` in its own window on MNIST (with the trained demo network's
    weights unless ``trained`` is False), call ``then(view)`` once shown, and run the app."""
    from PySide6.QtWidgets import QApplication

    from engine.data import load_mnist
    from engine.runs.snapshots import load_snapshot
    from workbench.state.session import Session
    from workbench.tasks.opening import TRAINED_DEMO
    from workbench.views import theme
    app = QApplication.instance() or QApplication([])
    theme.apply(app)
    session = Session(load_mnist())
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
