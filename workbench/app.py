"""``convnet-workbench``: start the application."""
import argparse
import ctypes
import logging
import os
import sys

#: The libraries Qt's X11 (xcb) platform plugin loads, by Debian/Ubuntu package and the
#: file the dynamic loader looks for (the README's apt line installs them all).
XCB_LIBRARIES = (("libxcb-cursor0", "libxcb-cursor.so.0"), ("libxcb-icccm4", "libxcb-icccm.so.4"),
                 ("libxcb-keysyms1", "libxcb-keysyms.so.1"), ("libxcb-image0", "libxcb-image.so.0"),
                 ("libxcb-render-util0", "libxcb-render-util.so.0"), ("libxcb-shape0", "libxcb-shape.so.0"),
                 ("libxcb-randr0", "libxcb-randr.so.0"), ("libxcb-xkb1", "libxcb-xkb.so.1"),
                 ("libxkbcommon-x11-0", "libxkbcommon-x11.so.0"), ("libegl1", "libEGL.so.1"),
                 ("libfontconfig1", "libfontconfig.so.1"), ("libdbus-1-3", "libdbus-1.so.3"))
APT_LINE = "sudo apt-get install " + " ".join(package for package, _ in XCB_LIBRARIES)


def can_load(library):
    """The dynamic loader finds ``library`` (a file name such as ``libEGL.so.1``) and can load it."""
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def missing_xcb_libraries(environ=None, platform=None):
    """The packages of ``XCB_LIBRARIES`` whose library cannot be loaded, when Qt would start on
    X11 (Linux, a DISPLAY, no other QT_QPA_PLATFORM, not a Wayland session that Qt would use
    instead); [] otherwise. Without them Qt aborts with its own message (exit 134)."""
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if not platform.startswith("linux") or not env.get("DISPLAY"):
        return []
    if chosen and not chosen.startswith("xcb"):
        return []  # offscreen, wayland, ...: not xcb
    if not chosen and env.get("WAYLAND_DISPLAY"):
        return []  # Qt takes Wayland first there
    return [package for package, library in XCB_LIBRARIES if not can_load(library)]


def xcb_message(missing):
    return (f"convnet-workbench: Qt's X11 platform (xcb) needs libraries this system lacks: "
            f"{', '.join(missing)}.\nInstall them (Debian/Ubuntu) with:\n\n    {APT_LINE}\n")


log = logging.getLogger(__name__)


def _parser():
    parser = argparse.ArgumentParser(prog="convnet-workbench",
                                     description="Build, train and look inside convnets on MNIST.")
    parser.add_argument("file", nargs="?", help="a network (layer definitions) or a ConvNetJS snapshot to open")
    parser.add_argument("--dark", action="store_true", help="dark colours whatever the system says")
    parser.add_argument("--session", metavar="DIR",
                        help="work in this session folder (made if missing), e.g. one of "
                             "'python -m engine train --session DIR': its runs, its network and weights")
    parser.add_argument("--autosave", type=float, metavar="SECONDS",
                        help="save the session at least this often (default 60)")
    return parser


def start(argv=None):
    """Start the application and show its window: ``(app, window)``, or ``(app, None)`` when
    it cannot start (the user was told why)."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)

    missing = missing_xcb_libraries()  # before Qt starts: it would abort with only its own message
    if missing:
        print(xcb_message(missing), file=sys.stderr)
        return None, None

    from PySide6.QtWidgets import QApplication, QMessageBox

    from engine import EngineError
    from engine.core.parallel import hold_freed_memory
    from engine.data import load_mnist
    from workbench.views import theme
    from workbench.window import logs
    from workbench.window.main_window import MainWindow

    hold_freed_memory()  # training frees and reallocates the same buffers every step
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("convnet-workbench")
    app.setOrganizationName("convnet-workbench")
    logs.start()  # in the data folder, now that Qt knows the app's name
    theme.apply(app, dark=True if args.dark else None)
    try:
        dataset = load_mnist()
    except EngineError as e:
        log.error("the bundled MNIST could not be loaded: %s", e)
        QMessageBox.critical(None, "convnet-workbench", f"The bundled MNIST could not be loaded: {e}")
        return app, None
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
    return app, win


def main(argv=None):
    app, win = start(argv)
    if win is None:
        return 1  # told why: the libraries Qt needs, or the bundled data
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
