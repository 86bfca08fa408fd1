"""SNMP for data-center devices: transport (pysnmp 7, asyncio) and pure judging profiles.

- ``transport``: ``SnmpClient`` (GET, GETBULK walk), ``Target``, credentials, ``SnmpFailure``.
- ``profiles``: ``build_profile(name, options)`` → what to fetch and how to judge it.
- ``ups``, ``sensors``, ``interfaces``, ``pdu``: the judgements, pure functions over
  ``{oid: value}`` dicts, table-tested without an agent.

The probe that ties them together is ``checks.probes.snmp``.
"""
