"""Sites and remote probes (issue 18): the data centers of one DutyDesk and the probe processes
that run their checks inside them, talking to the centre only over outbound HTTPS.

- :mod:`dutydesk.sites.models`  ``sites``, ``probes``, ``check_probes`` (which checks a probe runs)
- :mod:`dutydesk.sites.service` enrolment, credentials, revocation (the admin's and the API's)
- :mod:`dutydesk.sites.ingest`  result batches judged in order, stored once per (probe, seq)
- :mod:`dutydesk.sites.health`  "probe offline": one incident per silent probe, its checks UNKNOWN
- :mod:`dutydesk.sites.agent`   the ``dutydesk probe`` process and its store-and-forward buffer
- :mod:`dutydesk.sites.agent_inputs` the traps/syslog heard at the site, buffered and forwarded
- :mod:`dutydesk.sites.events`  those events stored once per (probe, event seq)
"""
