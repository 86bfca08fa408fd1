"""``python -m dutydesk`` is the ``dutydesk`` command (useful where scripts are not on PATH)."""

from dutydesk.cli import main

main(prog_name="dutydesk")
