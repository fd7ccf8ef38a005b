"""Pre-trade checks: one small class per rule, each with ``rule`` and ``check(intent, view,
state) -> Verdict | None``. :func:`default_checks` builds the configured pipeline."""
