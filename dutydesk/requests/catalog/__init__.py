"""The service catalog: what people may ask for, per service, with the SLA, line, priority,
form fields and approval each request for it takes (``dutydesk.requests.catalog.items``)."""
