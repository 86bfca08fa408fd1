"""The pure core of the alert pipeline: alert values, stages, muting, silences and the parsers of
the external formats we receive (Alertmanager webhook v4, PagerDuty Events API v2).

Nothing here touches the database, the network or Flask; the web layer and the worker call these
functions with the data they loaded and the current time.
"""
