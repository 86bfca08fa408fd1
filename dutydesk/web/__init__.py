"""Blueprints, one module per area. Registered in ``dutydesk.app._register_blueprints``."""
