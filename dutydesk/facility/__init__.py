"""Facility inputs: what power and cooling equipment says by itself (SNMP traps, syslog).

A domain above ``dutydesk.incidents``: every input turns what it hears into ``Alert`` values and
hands them to the ONE alert pipeline (``dutydesk.incidents.pipeline.process_alerts``), so a
trap's incident is deduplicated, muted, routed and paged exactly like a check's.

- ``rules``: the rule document (YAML, stored in the database) and its strict validation.
- ``mibs``: OID → ``MIB::name`` translation (built-in facility names + operator MIB files).
- ``flood``: per-source rate limiting that folds a flood into one alert with a count.
- ``decide``: pure mapping of one trap / syslog message to an alert or an "unmatched" outcome.
- ``receiver``: the thin I/O that drains what listeners heard into the pipeline.
- ``snmp`` / ``syslog``: the listeners; ``jobs``: their start/stop hooks for the worker.
- ``forward``: the same listeners inside a remote probe, forwarding neutral events;
  ``remote``: the centre feeding those events into the rules and the pipeline, per site.
"""
