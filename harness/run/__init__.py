"""``cqrs-bench run``: the Black Friday run, end to end."""
