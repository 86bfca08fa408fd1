"""Requests from people: the first line's door (see ``service`` for the public API).

A domain above ``dutydesk.incidents`` (a request links to an incident and shares its priority
matrix, lines and SLA stopwatch); incidents know nothing of requests.
"""
