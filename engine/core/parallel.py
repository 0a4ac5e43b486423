"""Splitting a batch across threads.

numpy releases the GIL inside its loops and BLAS calls, so two threads that each
run the network on half a batch keep both cores busy outside BLAS too, though they
still queue for the GIL between numpy's many short calls: training steps therefore
go to worker processes instead (``engine.workers``), and threads serve ``forward``
and ``backward`` (inference, evaluation). BLAS itself is limited to one thread:
measured here, a two-thread OpenBLAS interleaved with other work is slower than one
thread per worker.
"""
import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_lock = threading.Lock()
_pool = None
_blas_limited = False


def default_threads():
    """Worker threads for batch splitting: one per core, at most 4."""
    env = os.environ.get("ENGINE_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    return max(1, min(4, os.cpu_count() or 1))


def limit_blas():
    """Limit BLAS to one thread in this process (once): the engine splits work itself."""
    global _blas_limited
    if _blas_limited:  # called on every shared training step: no lock once done
        return
    with _lock:
        if not _blas_limited:
            try:
                from threadpoolctl import threadpool_limits
                threadpool_limits(limits=1, user_api="blas")
            except Exception:  # threadpoolctl missing or no BLAS found: still correct
                pass
            _blas_limited = True


def hold_freed_memory():
    """Let this process's malloc keep freed memory for reuse (glibc; elsewhere a no-op).

    A training step allocates and frees the same few megabytes of window copies
    every time. glibc returns freed memory at the top of its heap to the system once
    it exceeds a threshold that it sets from the largest block freed so far: in a
    process that never freed anything large (an engine worker), every step then
    page-faults its buffers back in. Measured here, that cost a worker 84 page
    faults and ~175 us of system time per step of 10 examples (a fifth of the
    step). Fixed thresholds keep up to 128 MB of freed memory and serve blocks
    below 32 MB from the heap. For processes the engine owns: its workers, the CLI,
    the app.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_trim_threshold, 128 << 20)) and bool(mallopt(m_mmap_threshold, 32 << 20))


def blas_info():
    """The BLAS numpy runs here and the kernels it picked, e.g. ``"openblas 0.3.31 SkylakeX"``.

    OpenBLAS picks its kernels for the processor at load time; ``OPENBLAS_CORETYPE``
    overrides that (some machines set it: on AVX-512 processors forcing ``Haswell``
    halves the speed of the products), so a benchmark says which ones ran.
    """
    try:
        from threadpoolctl import threadpool_info
        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:
        info = []
    if not info:
        return "unknown"
    i = info[0]
    text = " ".join(str(v) for v in (i.get("internal_api"), i.get("version"), i.get("architecture")) if v)
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return text + (f" (OPENBLAS_CORETYPE={forced})" if forced else "")


def pool(threads):
    """The process-wide executor (created on first use) with BLAS set to one thread."""
    global _pool
    limit_blas()
    with _lock:
        if _pool is None or _pool._max_workers < threads:
            _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="engine")
        return _pool


def run_split(funcs):
    """Run callables, the first on this thread and the rest on the pool; return results.

    The pool threads use the caller's numpy error settings (np.errstate is per thread).
    """
    if len(funcs) == 1:
        return [funcs[0]()]
    p = pool(len(funcs) - 1)
    err = np.geterr()

    def with_errstate(f):
        with np.errstate(**err):
            return f()

    futures = [p.submit(with_errstate, f) for f in funcs[1:]]
    first = funcs[0]()
    return [first] + [f.result() for f in futures]
