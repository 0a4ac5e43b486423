"""Worker processes that take a share of every training batch (the caller's side).

numpy holds the GIL between its calls, and a small network makes many short calls:
two threads splitting a batch of 20 spend much of their time handing the GIL back
and forth (measured here: 1.0-1.4x one thread). Two processes do not share a GIL
(1.9x). So a training step (``Net.train_step``) sends part of its batch to a worker
process that holds a replica of the net: the current weights and the examples go
down a pipe, the worker runs forward and backward, and its gradients and outputs
come back while this process works on its own part.

The workers are plain ``python -m engine.execution.worker`` children talking over their
stdin/stdout pipes, so they import numpy and the engine only (never the GUI, never
the caller's ``__main__``). They start in the background on first use; until they
are ready, and whenever they cannot be used (another thread holds them, the platform
has no POSIX pipes, ``ENGINE_PROCESSES=0``), training splits the batch across
threads as before. A worker that dies is dropped and the threads take over.
"""
import atexit
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import warnings

import numpy as np

from .. import parallel
from .plan import Deferred
from ..errors import DataError, EngineError, SnapshotError, SpecError

_ERRORS = {"DataError": DataError, "SpecError": SpecError, "SnapshotError": SnapshotError,
           "FloatingPointError": FloatingPointError, "ValueError": ValueError}


def enabled():
    """Whether worker processes may be used here (POSIX, not switched off)."""
    return (os.name == "posix" and bool(sys.executable)
            and os.environ.get("ENGINE_PROCESSES", "1").strip() not in ("0", "", "no", "off"))


class _Worker:
    """One child process and the two ends of its pipes."""

    def __init__(self):
        from multiprocessing.connection import Connection
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", ENGINE_THREADS="1", ENGINE_PROCESSES="0")
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen([sys.executable, "-m", "engine.execution.worker"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     close_fds=True)
        self.tx = Connection(os.dup(self.proc.stdin.fileno()), readable=False)
        self.rx = Connection(os.dup(self.proc.stdout.fileno()), writable=False)
        for conn in (self.tx, self.rx):
            _widen_pipe(conn.fileno())
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.ready = False
        self.token = None  # the net the worker holds
        self.step = 0      # counts steps, so that stale activations are noticed

    def poll_ready(self):
        if not self.ready and self.rx.poll():
            if _unpack(self.rx.recv_bytes())[0] != ("ready",):
                raise EngineError("engine worker: unexpected greeting")
            self.ready = True
        return self.ready

    def close(self):
        for c in (self.tx, self.rx):
            try:
                c.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class _Pool:
    def __init__(self):
        self.lock = threading.Lock()
        self.workers = []
        self.broken = False
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
                        w.rx.poll(0.05)
            if all(w.poll_ready() for w in self.workers[:count]):
                return self.workers[:count]
        except (OSError, EOFError, EngineError):
            self._break()
        self.lock.release()
        return None

    def _break(self, permanent=True):
        self.broken = permanent
        for w in self.workers:
            w.close()
        self.workers = []

    def shutdown(self):
        # At exit a daemon thread may be stuck mid-step holding the lock: close anyway.
        locked = self.lock.acquire(timeout=5)
        try:
            for w in self.workers:
                w.close()
            self.workers = []
            self.broken = False
        finally:
            if locked:
                self.lock.release()


_pool = _Pool()
atexit.register(_pool.shutdown)


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
                    blob = pickle.dumps((net.dtype.str, [l.clone(share_params=False) for l in net.layers],
                                         int(net.rng.integers(2 ** 63))), protocol=pickle.HIGHEST_PROTOCOL)
                    w.tx.send_bytes(_pack(("setup", net.token, blob)))
                    w.token = net.token
                w.step += 1
                if y is None:
                    w.tx.send_bytes(_pack(("infer", err), params, x))
                else:
                    w.tx.send_bytes(_pack(("step", n_total, err), params, x, y))
                self.sent.append(w)
        except (OSError, EOFError):
            _pool._break()
            raise _Lost() from None
        except BaseException:  # half a message may be in the pipe: start afresh next time
            _pool._break(permanent=False)
            raise

    def finish(self):
        """Each worker's ``(loss, output, grads)``; raises a worker's error after draining all."""
        results, error = [], None
        try:
            for w in self.sent:
                _spin(w.rx, SPIN_SECONDS / 2)  # this process is idle until the reply anyway
                header, arrays = _unpack(w.rx.recv_bytes())
                if header[0] == "error":
                    error = error or header
                    continue
                _, loss, caught = header
                grads, out = arrays if len(arrays) == 2 else (None, arrays[0])
                for text in caught:
                    warnings.warn(f"{text} (in an engine worker)", RuntimeWarning, stacklevel=3)
                results.append((loss, out, grads))
        except (OSError, EOFError):
            _pool._break()
            raise _Lost() from None
        except BaseException:
            _pool._break(permanent=False)
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


def _spin(conn, seconds):
    end = time.perf_counter() + seconds
    while not conn.poll() and time.perf_counter() < end:
        pass


def _pack(header, *arrays):
    """One message: a pickled header, then the arrays' bytes (shapes and dtypes in front).

    One write per step each way: every separate message would wake the other side.
    """
    arrays = [np.ascontiguousarray(a) for a in arrays]
    meta = pickle.dumps((header, [(a.shape, a.dtype.str) for a in arrays]), pickle.HIGHEST_PROTOCOL)
    return b"".join([len(meta).to_bytes(8, "little"), meta] + [memoryview(a).cast("B") for a in arrays])


def _unpack(buf):
    """``(header, arrays)`` from ``_pack``'s bytes; the arrays are read-only views of ``buf``."""
    size = int.from_bytes(buf[:8], "little")
    header, specs = pickle.loads(buf[8:8 + size])
    arrays, offset = [], 8 + size
    for shape, dtype in specs:
        dtype = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        arrays.append(np.frombuffer(buf, dtype, count, offset).reshape(shape))
        offset += count * dtype.itemsize
    return header, arrays


class _Lost(Exception):
    """A worker died mid-step: the caller redoes the step on its own threads."""


def fetch(worker, token, step, index, kind):
    """Layer ``index``'s ``act`` or ``grad`` from the worker's part of step ``step``."""
    with _pool.lock:
        if worker.token != token or worker.step != step or worker not in _pool.workers:
            raise EngineError("the worker's share of that batch is gone (it has trained "
                              "on another batch since); run forward() again to see it")
        try:
            worker.tx.send_bytes(_pack(("fetch", index, kind)))
            _, arrays = _unpack(worker.rx.recv_bytes())
            return arrays[0].copy() if arrays else None
        except (OSError, EOFError):
            _pool._break()
            raise EngineError("the engine worker holding that batch's share has stopped") from None


def remote(worker, token, index, kind):
    """Layer ``index``'s ``act`` or ``grad`` in the worker's share of the step it just
    ran, fetched when somebody asks for it."""
    where = (worker, token, worker.step, index, kind)
    return Deferred(lambda: fetch(*where))
