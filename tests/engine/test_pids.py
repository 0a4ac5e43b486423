"""Whether a process is alive: a probe that never signals it."""
import os
import socket
import subprocess
import sys

from engine.core.pids import holder_alive, pid_alive


def test_this_process_is_alive_and_a_finished_one_is_not():
    assert pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid)
    assert not pid_alive(0) and not pid_alive(-1) and not pid_alive("12") and not pid_alive(True)


def test_a_record_of_another_machine_cannot_be_told_so_it_counts_as_alive():
    assert holder_alive({"pid": 1, "host": socket.gethostname() + "-elsewhere"})
    assert not holder_alive({"host": socket.gethostname()}) and not holder_alive(None)
    assert holder_alive({"pid": os.getpid(), "host": socket.gethostname()})
