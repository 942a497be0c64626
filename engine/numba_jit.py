"""Compiling a kernel module's functions in place with numba, once per process, on first use.

A kernel module keeps its functions as plain Python (readable, and importable where numba is not) and
names them callees first: numba reads a callee as the module global it finds when it compiles the caller,
so each name is replaced by its compiled dispatcher before the functions that call it are compiled. Two
jobs that start at once must not wrap a function twice (numba refuses to jit a dispatcher, and the second
job failed with a TypeError): a lock guards the replacement, and a function already compiled (one kernel
module using another's) is kept as it is.

numba is imported without its BLAS probe (``_import_numba``): when numba first compiles or loads a function,
its numpy support asks whether ``np.dot`` can call SciPy's BLAS by importing ``scipy.linalg`` (~0.1 s of a
0.3 s start, for the 5-run spiral `compare`). No kernel here calls BLAS, so the probe is answered "no BLAS":
numba then uses its own loop for the few numpy calls that would have used it.
"""

from __future__ import annotations

import sys
import threading

_lock = threading.Lock()


def _no_blas() -> None:
    raise ImportError("not probed: Descent Lab's kernels call no BLAS")


def _import_numba():
    """Return numba's ``njit``, numba's numpy support loaded without importing scipy.linalg (see the docstring).

    Where numba is laid out otherwise (another version), or its numpy support is already loaded, it is
    imported as it is.
    """
    from numba import njit

    if "numba.np.arraymath" not in sys.modules:
        try:
            from numba.np import linalg
        except ImportError:
            return njit
        probe = getattr(linalg, "ensure_blas", None)
        if probe is not None:
            linalg.ensure_blas = _no_blas  # read once, by numba.np.arraymath's import
            try:
                import numba.np.arraymath  # noqa: F401
            finally:
                linalg.ensure_blas = probe
    return njit


def jit_in_place(namespace: dict, callees: tuple[str, ...], entries: tuple[str, ...], **options) -> tuple:
    """Return the compiled ``entries`` of the module whose globals are ``namespace``.

    On the first call numba is imported and ``callees``, then ``entries``, are replaced in ``namespace`` by
    ``numba.njit(**options)`` of themselves; the entries also release the GIL (``nogil``), so that other
    threads (the window's, a kernel's helpers) run while they compute.
    """
    with _lock:
        njit = _import_numba()
        for names, extra in ((callees, {}), (entries, {"nogil": True})):
            for name in names:
                if not hasattr(namespace[name], "py_func"):  # not compiled yet
                    namespace[name] = njit(**options, **extra)(namespace[name])
    return tuple(namespace[name] for name in entries)
