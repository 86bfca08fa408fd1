"""The monitoring wall: the full-screen page duty engineers watch all shift.

``rows`` are the plain inputs, ``snapshot.build_wall`` turns them into a ``WallView`` (pure),
``sources`` reads the rows from storage in a few queries, ``feed`` keeps one poller per process
and fans incremental updates out to Server-Sent Events streams, ``views`` serves the pages.
"""
