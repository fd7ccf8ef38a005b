"""Alembic migrations for genebot's schema (run through :mod:`genebot.persistence.migrate`)."""
