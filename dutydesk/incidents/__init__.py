"""The pure core of incidents: priority, lifecycle, SLA clocks, escalation.

Every function takes the incident's state or timeline and ``now`` and returns values (new state,
timeline events, clock readings, due notifications); the shell stores them.
"""
