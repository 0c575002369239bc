"""sphinx-gallery ``reset_modules`` hook that sets the BLAS and torch thread counts.

The gallery runs small problems inside the Sphinx process. With several BLAS/torch threads per
process on a busy machine the threads mostly wait on each other (measured on the project's
2-core VM under load: 128 s with 2 threads against 9 s with one for ``plot_interventions.py``),
so each example runs with ``ATTNKERNEL_DOCS_THREADS`` threads, default 1. The hook lives in a
module, not in conf.py, so that Sphinx can pickle the configuration (it refers to it by name).
"""

import os


def limit_threads(gallery_conf, fname, when=None):
    """Set the thread limits before each example."""
    import threadpoolctl
    import torch

    threads = int(os.environ.get("ATTNKERNEL_DOCS_THREADS", "1"))
    threadpoolctl.threadpool_limits(limits=threads)
    torch.set_num_threads(threads)
