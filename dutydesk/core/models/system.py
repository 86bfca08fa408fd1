"""Process-level bookkeeping stored in the database (shared by every web and worker process)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from dutydesk.core.db import Base, utcnow


class WorkerHeartbeat(Base):
    """The last time each scheduler process said it was alive; ``/readyz`` reads it."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    pid: Mapped[int] = mapped_column(default=0)
