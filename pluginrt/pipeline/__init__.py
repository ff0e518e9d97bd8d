"""The host pipeline: every capability combined across plugins (SEMANTICS.md)."""
