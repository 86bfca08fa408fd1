"""Effectiveness reports: SLA compliance, MTTA/MTTR, workload, availability, visitors.

Figures are pure functions over plain records (``records``), fed by a thin loader that reads
only what the period needs (``loader``); the web layer renders them with server-side SVG charts
(``charts``) and as CSV.
"""
