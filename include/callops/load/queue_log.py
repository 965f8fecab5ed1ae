"""Placeholder: filled in this session (issue 3)."""

ADAPTERS = ()
