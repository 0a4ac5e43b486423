"""``convnet-workbench``: start the application."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="convnet-workbench",
                                     description="Build, train and look inside convnets on MNIST.")
    parser.add_argument("file", nargs="?", help="a network (layer definitions) or a ConvNetJS snapshot to open")
    parser.add_argument("--dark", action="store_true", help="dark colours whatever the system says")
    parser.add_argument("--session", metavar="DIR",
                        help="work in this session folder (made if missing), e.g. one of "
                             "'python -m engine train --session DIR': its runs, its network and weights")
    parser.add_argument("--autosave", type=float, metavar="SECONDS",
                        help="save the session at least this often (default 60)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    from PySide6.QtWidgets import QApplication, QMessageBox

    from engine import EngineError
    from engine.data import load_mnist
    from engine.parallel import hold_freed_memory

    from . import theme
    from .main_window import MainWindow

    hold_freed_memory()  # training frees and reallocates the same buffers every step
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("convnet-workbench")
    app.setOrganizationName("convnet-workbench")
    theme.apply(app, dark=True if args.dark else None)
    try:
        dataset = load_mnist()
    except EngineError as e:
        QMessageBox.critical(None, "convnet-workbench", f"The bundled MNIST could not be loaded: {e}")
        return 1
    win = MainWindow(dataset)
    if args.autosave:
        win.keeper.set_autosave_seconds(args.autosave)
    win.show()
    if win.keeper.notice:  # its session folder could not be used: left as it was, and said
        QMessageBox.warning(win, "convnet-workbench", win.keeper.notice)
    # after a crash: the work as last saved, offered before anything can save over it
    win.keeper.offer_restore(win)
    if args.session:
        win.keeper.open_folder(args.session, create=True)
    win.guided_tour().offer_first_start(win.settings)  # once: remembered in the settings
    if args.file:
        win.files.open_path(args.file)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
