"""Worker processes that take a share of every training batch (the caller's side).

numpy holds the GIL between its calls, and a small network makes many short calls:
two threads splitting a batch of 20 spend much of their time handing the GIL back
and forth (measured here: 1.0-1.4x one thread). Two processes do not share a GIL
(1.9x). So a training step (``Net.train_step``) sends part of its batch to a worker
process that holds a replica of the net: the current weights and the examples go
down a pipe, the worker runs forward and backward, and its gradients and outputs
come back while this process works on its own part.

The workers are plain ``python -m engine.core.execution.worker`` children talking over their
stdin/stdout pipes in the one message format of ``engine.core.wire`` (a JSON header and raw
arrays, never pickle), so they import numpy and the engine only (never the GUI, never
the caller's ``__main__``). They start in the background on first use; until they
are ready, and whenever they cannot be used (another thread holds them, the platform
has no POSIX pipes, ``ENGINE_PROCESSES=0``), training splits the batch across
threads as before.

Faults never hang or change the numbers: every read and write on the pipes has a
deadline, so a worker that stops answering (stopped, killed, swamped, or sending
garbage) is abandoned after a bounded wait and the step is done again on this
process's threads. Workers are started again on the next step, up to
``MAX_RESTARTS`` times in a process; after that the threads keep the work.
"""
import atexit
import os
import select
import signal
import subprocess
import sys
import threading
import time
import warnings

import numpy as np

from engine.core import parallel
from engine.core.child import python_child
from engine.core.errors import DataError, EngineError, SnapshotError, SpecError
from engine.core.execution.plan import Deferred
from engine.core.wire import pack, unpack

_ERRORS = {"DataError": DataError, "SpecError": SpecError, "SnapshotError": SnapshotError,
           "FloatingPointError": FloatingPointError, "ValueError": ValueError}

MAX_RESTARTS = 3          # workers lost in one process before the threads keep the work
MAX_MESSAGE = 1 << 31     # bytes; a longer length prefix is garbage
RECV_CHUNK = 64 << 20     # bytes allocated before they arrive, at most
WAIT_SECONDS = 5.0        # the least time a worker gets to answer a step ...
WAIT_FACTOR = 20.0        # ... or this many times this process's own share, if longer
FETCH_SECONDS = 30.0


def enabled():
    """Whether worker processes may be used here (POSIX, not switched off)."""
    return (os.name == "posix" and bool(sys.executable)
            and os.environ.get("ENGINE_PROCESSES", "1").strip() not in ("0", "", "no", "off"))


class Timeout(Exception):
    """The other end did not read or write in time."""


class Channel:
    """Length-prefixed messages over a pipe's file descriptors, with deadlines.

    Non-blocking descriptors and ``select``: a stopped or stuck peer makes ``send``
    or ``recv`` raise ``Timeout`` instead of blocking forever (``timeout=None``
    waits as long as it takes: the worker's side, whose caller may think for long).
    """

    def __init__(self, rfd=None, wfd=None):
        self.rfd, self.wfd = rfd, wfd
        for fd in (rfd, wfd):
            if fd is not None:
                os.set_blocking(fd, False)

    def poll(self, timeout=0.0):
        return bool(select.select([self.rfd], [], [], timeout)[0])

    def _wait(self, fds_r, fds_w, deadline):
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise Timeout()
        r, w, _ = select.select(fds_r, fds_w, [], left)
        if not r and not w:
            raise Timeout()

    def send(self, data, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        parts = [memoryview(len(data).to_bytes(8, "little")), memoryview(data).cast("B")]
        while parts:
            try:
                n = os.writev(self.wfd, parts)
            except BlockingIOError:
                self._wait([], [self.wfd], deadline)
                continue
            while n and parts:
                if n >= len(parts[0]):
                    n -= len(parts[0])
                    parts.pop(0)
                else:
                    parts[0] = parts[0][n:]
                    n = 0

    def _read_into(self, view, deadline):
        got = 0
        while got < len(view):
            try:
                n = os.readv(self.rfd, [view[got:]])
            except BlockingIOError:
                self._wait([self.rfd], [], deadline)
                continue
            if n == 0:
                raise EOFError("the pipe was closed")
            got += n

    def recv(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        head = bytearray(8)
        self._read_into(memoryview(head), deadline)
        size = int.from_bytes(head, "little")
        if size > MAX_MESSAGE:
            raise EOFError(f"a message of {size} bytes: the pipe holds garbage")
        if size <= RECV_CHUNK:  # a step's message: read in place
            buf = bytearray(size)
            self._read_into(memoryview(buf), deadline)
            return buf
        # a length that claims more: memory grows with what actually arrives, so 8 bytes
        # saying 2**31 - 1 cannot make this process allocate 2 GB
        buf = bytearray()
        while len(buf) < size:
            chunk = bytearray(min(RECV_CHUNK, size - len(buf)))
            self._read_into(memoryview(chunk), deadline)
            buf += chunk
        return buf

    def close(self):
        for fd in (self.rfd, self.wfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.rfd = self.wfd = None


class _Worker:
    """One child process and the two ends of its pipes."""

    def __init__(self):
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", ENGINE_THREADS="1", ENGINE_PROCESSES="0")
        self.proc = python_child(["-m", "engine.core.execution.worker"], env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
        self.ch = Channel(os.dup(self.proc.stdout.fileno()), os.dup(self.proc.stdin.fileno()))
        for fd in (self.ch.rfd, self.ch.wfd):
            _widen_pipe(fd)
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.ready = False
        self.token = None  # the net the worker holds
        self.step = 0      # counts steps, so that stale activations are noticed

    def poll_ready(self):
        if not self.ready and self.ch.poll():
            if unpack(self.ch.recv(timeout=WAIT_SECONDS))[0] != ("ready",):
                raise EngineError("engine worker: unexpected greeting")
            self.ready = True
        return self.ready

    def close(self, wait=1.0):
        """Close the pipes (the worker then exits); kill it if it has not after ``wait`` s."""
        self.ch.close()
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # also ends a stopped process
            self.proc.wait()


class _Pool:
    def __init__(self):
        self.lock = threading.Lock()
        self.workers = []
        self.broken = False
        self.lost = 0
        self.pid = os.getpid()

    def grab(self, count, wait=None):
        """``count`` ready workers with the lock held, or None (then use threads).

        Starts missing workers; waits up to ``wait`` seconds for them to be ready
        (default: not at all, the caller uses threads meanwhile).
        """
        if self.pid != os.getpid():  # a forked child: the pipes are the parent's
            self.__init__()
        if self.broken or not self.lock.acquire(blocking=wait is not None):
            return None
        try:
            while len(self.workers) < count:
                self.workers.append(_Worker())
            if wait:
                deadline = time.monotonic() + wait
                for w in self.workers[:count]:
                    while not w.poll_ready() and time.monotonic() < deadline:
                        w.ch.poll(0.05)
            if all(w.poll_ready() for w in self.workers[:count]):
                return self.workers[:count]
        except (OSError, EOFError, Timeout, EngineError):
            self.lose_all()
        self.lock.release()
        return None

    def lose_all(self):
        """Abandon every worker (one failed): they start afresh next time, a few times."""
        self.lost += 1
        self.broken = self.lost > MAX_RESTARTS
        for w in self.workers:
            w.close(wait=0.2)
        self.workers = []

    def shutdown(self):
        # At exit a daemon thread may be stuck mid-step holding the lock: close anyway.
        locked = self.lock.acquire(timeout=2)
        try:
            for w in self.workers:
                w.close()
            self.workers = []
            self.broken = False
            self.lost = 0
        finally:
            if locked:
                self.lock.release()


_pool = _Pool()


def _shutdown_at_exit():
    # Ctrl-C while the interpreter exits must not interrupt the clean-up (and print
    # "Exception ignored in atexit callback"): the process is ending anyway.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _pool.shutdown()


atexit.register(_shutdown_at_exit)


def pids():
    """Process ids of the running workers (for memory figures)."""
    return [w.proc.pid for w in list(_pool.workers)]


def shutdown():
    """Stop the workers (they start again when needed, even after a failure)."""
    _pool.shutdown()


_token_lock = threading.Lock()
_next_token = [0]


def warm_up(count=None, timeout=30.0):
    """Start ``count`` workers (default: one per core but one) and wait until they are ready.

    Training starts them by itself; this is for benchmarks and tests that must not
    measure the start. Returns whether they are ready.
    """
    if not enabled():
        return False
    if count is None:
        count = parallel.default_threads() - 1
    if count < 1:
        return False
    ws = _pool.grab(count, wait=timeout)
    if ws is None:
        return False
    _pool.lock.release()
    return True


def new_token():
    """A number that tells one net (one set of layers) from every other in this process."""
    with _token_lock:
        _next_token[0] += 1
        return _next_token[0]


class Step:
    """A training step or inference pass shared with workers: ``start`` sends, ``finish`` collects.

    Used by ``Net.train_step`` and ``Net.infer``; holds the pool's lock from
    ``open`` to ``finish`` (or ``release``).
    """

    def __init__(self, workers):
        self.workers = workers

    @classmethod
    def open(cls, count):
        parallel.limit_blas()  # this process's share runs beside the workers
        ws = _pool.grab(count)
        return None if ws is None else cls(ws)

    def start(self, net, params, parts, n_total):
        """Send each worker the weights and its ``(x, y)`` part of a batch of ``n_total``.

        With ``y`` None the workers only run forward (inference) and send outputs.
        """
        self.sent = []
        try:
            err = np.geterr()
            for w, (x, y) in zip(self.workers, parts):
                if w.token != net.token:
                    blob, weights = _net_blob(net)
                    w.ch.send(pack(("setup", net.token, blob), *weights), WAIT_SECONDS)
                    w.token = net.token
                w.step += 1
                if y is None:
                    w.ch.send(pack(("infer", err), params, x), WAIT_SECONDS)
                else:
                    w.ch.send(pack(("step", n_total, err), params, x, y), WAIT_SECONDS)
                self.sent.append(w)
        except (OSError, EOFError, Timeout):
            _pool.lose_all()
            _pool.lock.release()
            raise _Lost() from None
        except BaseException:  # half a message may be in the pipe: start afresh next time
            _pool.lose_all()
            _pool.lock.release()
            raise

    def finish(self, timeout=WAIT_SECONDS):
        """Each worker's ``(loss, output, grads)``; raises a worker's error after draining all.

        A worker that does not answer within ``timeout`` seconds, or answers garbage,
        is abandoned (``_Lost``: the caller does the step on its own threads).
        """
        results, error = [], None
        deadline = time.monotonic() + timeout
        try:
            for w in self.sent:
                _spin(w.ch, SPIN_SECONDS / 2)  # this process is idle until the reply anyway
                header, arrays = unpack(w.ch.recv(max(0.0, deadline - time.monotonic())))
                if header[0] == "error":
                    error = error or header
                    continue
                _, loss, caught = header
                grads, out = arrays if len(arrays) == 2 else (None, arrays[0])
                for text in caught:
                    warnings.warn(f"{text} (in an engine worker)", RuntimeWarning, stacklevel=3)
                results.append((loss, out, grads))
        except (OSError, EOFError, Timeout, ValueError, TypeError):
            _pool.lose_all()  # dead, stuck or garbled: the caller's threads take over
            raise _Lost() from None
        except BaseException:
            _pool.lose_all()
            raise
        finally:
            _pool.lock.release()
        if error is not None:
            raise _ERRORS.get(error[1], EngineError)(error[2])
        return results

    def release(self):
        """Give the lock back without collecting (nothing was sent)."""
        _pool.lock.release()


# Waking a process blocked on a pipe takes tens of microseconds on a VM, twice per
# step. Both sides therefore poll for a short while before they block: in a training
# loop the next message is usually that close.
SPIN_SECONDS = 0.002


def _widen_pipe(fd, size=1 << 20):
    """Let a pipe hold a whole step's message (Linux; 64 KB by default).

    A batch of 64 images is ~150 KB: through a 64 KB pipe the caller's send waits
    for the worker to read, instead of starting on its own share at once.
    """
    try:
        import fcntl
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
    except (ImportError, AttributeError, OSError):  # elsewhere, or above pipe-max-size
        pass


def _spin(ch, seconds):
    end = time.perf_counter() + seconds
    while not ch.poll() and time.perf_counter() < end:
        pass


def _net_blob(net):
    """What a worker needs to replicate ``net``: a JSON-able header (dtype, seed, each layer's
    type, options and input shape) and the arrays (each layer's parameters and state, in
    order). ``pack(("setup", token, header), *arrays)``; ``worker.net_from_blob`` reads it."""
    layers = [[l.layer_type, l.opts, [l.in_sy, l.in_sx, l.in_depth], getattr(l, "source_index", i)]
              for i, l in enumerate(net.layers)]
    arrays = [getattr(l, a) for l in net.layers for a in l.param_attrs + l.state_attrs]
    return {"dtype": net.dtype.str, "seed": int(net.rng.integers(2 ** 63)), "layers": layers}, arrays




class _Lost(Exception):
    """A worker died, stalled or garbled a step: the caller redoes it on its own threads."""


def fetch(worker, token, step, index, kind):
    """Layer ``index``'s ``act`` or ``grad`` from the worker's part of step ``step``."""
    with _pool.lock:
        if worker.token != token or worker.step != step or worker not in _pool.workers:
            raise EngineError("the worker's share of that batch is gone (it has trained "
                              "on another batch since); run forward() again to see it")
        try:
            worker.ch.send(pack(("fetch", index, kind)), FETCH_SECONDS)
            _, arrays = unpack(worker.ch.recv(FETCH_SECONDS))
            return arrays[0].copy() if arrays else None
        except (OSError, EOFError, Timeout, ValueError, TypeError):
            _pool.lose_all()
            raise EngineError("the engine worker holding that batch's share stopped "
                              "answering") from None


def remote(worker, token, index, kind):
    """Layer ``index``'s ``act`` or ``grad`` in the worker's share of the step it just
    ran, fetched when somebody asks for it."""
    where = (worker, token, worker.step, index, kind)
    return Deferred(lambda: fetch(*where))
