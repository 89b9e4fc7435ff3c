"""Benchmarks of flynn-async against the simulator over real sockets.

``python -m benchmarks`` runs them all and prints a table of every figure, its target and
whether it is met (exit status 0 only if all are); ``python -m benchmarks.bench_fanout`` (or
``bench_decode``, ``bench_end_to_end``, ``bench_polling``, ``bench_memory``, ``bench_gc``) runs
one. ``--quick`` makes a short smoke run. Only the public API is used (``flynn_async`` and
``flynn_async.testing``), except by ``python -m benchmarks.budget``, a diagnostic (no target)
that times each part of a download beside the typed floor client. See ``docs/performance.md``.
"""
