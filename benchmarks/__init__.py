"""The airspeed velocity (asv) benchmark suite of sklearn-attnkernel.

One module per speed claim: each has the timings of the package's method (``time_*``), those of
the baseline it is measured against, the peak memory where it matters (``peakmem_*``) and the
speed-up against the baseline (``track_speedup``, unit ``"ratio"``). Every class takes a
``size`` parameter: ``"small"`` for a fast check (``asv run --quick -b small``), ``"full"`` (and
``"large"`` where it exists) for the problem sizes of the recorded figures. ``benchmarks/README.md``
says how to run it and keeps the figures.
"""
