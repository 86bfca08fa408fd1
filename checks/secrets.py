"""Credentials inside check specs (BMC passwords, SNMP communities and keys) stay off pages.

Each check type names its secret spec fields (``CheckType.secret_fields``). Screens show
``masked(...)``: every secret replaced by :data:`PLACEHOLDER`. When an edited spec comes back
with the placeholder still in a field, ``restored(...)`` puts the stored secret back, so an
editor can change a BMC's address without retyping (or ever seeing) its password; typing a new
value replaces it. Pure functions over plain dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from checks.probes import CHECK_TYPES

#: What a page shows instead of a secret, and what an edit sends back to keep it.
PLACEHOLDER = "(unchanged)"


def secret_fields(type_name: str) -> tuple[str, ...]:
    check_type = CHECK_TYPES.get(type_name)
    return check_type.secret_fields if check_type is not None else ()


def masked(type_name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``spec`` with every secret field that holds a value replaced."""
    out = dict(spec)
    for name in secret_fields(type_name):
        if out.get(name) not in (None, ""):
            out[name] = PLACEHOLDER
    return out


def restored(
    type_name: str, edited: Mapping[str, Any], old_type: str | None,
    old_spec: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """``edited`` with placeholders replaced by the stored secrets of the same check type.

    A placeholder with nothing to restore (a new check, another type, a field that was empty)
    is left as it is, so validation or the device refuses it instead of a silent wrong secret.
    """
    out = dict(edited)
    if old_spec is None or old_type != type_name:
        return out
    for name in secret_fields(type_name):
        if out.get(name) == PLACEHOLDER and old_spec.get(name) not in (None, ""):
            out[name] = old_spec[name]
    return out


def audited(values: Mapping[str, Any], type_name: str) -> dict[str, Any]:
    """Check column values for an audit entry: a ``spec`` among them has its secrets masked
    (the audit log is shown on pages and kept for years)."""
    out = dict(values)
    if isinstance(out.get("spec"), Mapping):
        out["spec"] = masked(type_name, out["spec"])
    return out
