"""``dutydesk demo``: a small, living data center on 127.0.0.1 (see ``run_demo``)."""

from dutydesk.demo.runner import run_demo

__all__ = ["run_demo"]
