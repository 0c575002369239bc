"""The LAPACK steps of the dual LOO path (influence/_linalg.py): the Cholesky of a large system
runs on one BLAS thread, where OpenBLAS's multithreaded dpotrf crashes (issue #16)."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_attnkernel.influence import _linalg


def _blas_threads():
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.mark.parametrize(("n", "one_thread"), [(6, False), (7, True)])
def test_the_cholesky_above_the_limit_runs_on_one_blas_thread(monkeypatch, n, one_thread):
    if not _blas_threads():
        pytest.skip("threadpoolctl sees no BLAS library here")
    seen = []
    factor = _linalg.lapack.dpotrf

    def recording(*args, **kwargs):
        seen.append(_blas_threads())
        return factor(*args, **kwargs)

    monkeypatch.setattr(_linalg, "ONE_THREAD_ABOVE", 6)
    monkeypatch.setattr(_linalg.lapack, "dpotrf", recording)
    rng = np.random.default_rng(0)
    F = rng.standard_normal((n, n))
    system = F @ F.T + n * np.eye(n)
    expected = np.linalg.cholesky(system).T
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        if max(before) < 2:
            pytest.skip("one BLAS thread here: nothing to limit")
        U, info = _linalg.cholesky_upper(system.copy())
        after = _blas_threads()
    assert info == 0
    np.testing.assert_allclose(U, expected, rtol=1e-12, atol=1e-12)
    (during,) = seen
    assert all(threads == 1 for threads in during) is one_thread
    assert after == before  # the limit is lifted again after the call
