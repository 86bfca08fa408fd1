"""The lifecycle both facility listeners share: an asyncio loop of their own in a daemon thread.

``start()`` starts the receiver, runs the loop in a thread and waits (10 s at most) until the
listener says it is ready; ``stop()`` stops the loop, joins the thread and stops the receiver.
A subclass says what happens on the new loop (``_begin``: schedule its start-up, which must set
``_ready`` however it ends) and before the loop closes (``_end``: release its sockets now, not at
garbage collection); the tasks still pending then are cancelled and awaited, not left dangling.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from dutydesk.facility.receiver import Receiver

log = logging.getLogger("dutydesk.facility")


class LoopListener:
    """A listener owning one asyncio loop in one thread, handing what it hears to ``receiver``."""

    #: The thread's name and the listener's name in the log.
    thread_name = "listener"
    label = "listener"

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.error: str | None = None

    def _begin(self, loop: asyncio.AbstractEventLoop) -> None:
        """Schedule the listener's start-up on ``loop`` (before it runs); sets ``_ready``."""
        loop.call_soon(self._ready.set)

    def _end(self, loop: asyncio.AbstractEventLoop) -> None:
        """Release what the listener holds once its loop has stopped."""

    def _listening(self) -> Any:
        """Where it listens, for the start-up log line."""
        return None

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._begin(loop)
        loop.run_forever()
        self._end(loop)
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    def start(self) -> None:
        """Start the receiver and the loop thread; returns once the listener is ready."""
        self.receiver.start()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        log.info(f"{self.label} started", extra={"listen": self._listening()})

    def stop(self) -> None:
        """Stop the loop, join its thread (10 s at most) and stop the receiver."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop = self._thread = None
        self.receiver.stop()
