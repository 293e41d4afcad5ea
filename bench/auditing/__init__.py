"""The robustness audit: checks that say whether to believe each robust accuracy.

``bench.audit(...)`` (``bench.auditing.api``) and ``run_bench.py audit`` run it;
the checks live here, one concern per module: ``declared`` (a), ``traces``
(b), ``sanity`` (c), ``binarization`` (d), their ``verdicts``, the audit's
jobs (``planning``, ``parts``) and its table (``frame``).
"""
