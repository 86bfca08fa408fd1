"""Mail intake (the core's part): read a mailbox over IMAP, parse each message safely, drop
automatic mail (RFC 3834 auto-replies, bounces, our own mail), and hand the rest to a list of
handlers that the shell assembles (``dutydesk.jobs``): ``handler(session, mail, now) -> bool``,
tried in order, the first that returns True consumes the message. Each message is processed
once (a ledger keyed by Message-ID, written in the handler's transaction) and moved out of the
inbox only after that transaction committed.
"""
