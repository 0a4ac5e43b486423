"""Whether a process is still running, on every platform.

``os.kill(pid, 0)`` probes a process on POSIX, but on Windows signal 0 is CTRL_C_EVENT: it
would interrupt the process, not ask about it. There the process is opened for a query and
its exit code read instead.
"""
import os
import socket

_STILL_ACTIVE = 259
_QUERY_LIMITED_INFORMATION = 0x1000
_ACCESS_DENIED = 5


def pid_alive(pid):
    """Whether a process with this id exists on this machine (another user's counts)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if os.name == "nt":
        return _windows_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but another user's
        return True
    except OSError:
        return False
    return True


def _windows_alive(pid):
    import ctypes
    kernel32 = ctypes.windll.kernel32
    handle = kernel32.OpenProcess(_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return ctypes.GetLastError() == _ACCESS_DENIED  # there, but not ours to open
    try:
        code = ctypes.c_ulong()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == _STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def holder_alive(record):
    """Whether the process a record names (``{"pid", "host"}``, as session folders and the app's
    crash marker write) may still be at work: True on another machine (it cannot be told),
    else whether that pid is alive. A record that names no process is not alive."""
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return False
    if record.get("host") != socket.gethostname():
        return True
    return pid_alive(record["pid"])
