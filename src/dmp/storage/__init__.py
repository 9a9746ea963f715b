"""Persistence: schema, migrations, repositories. Never leaks tables upward."""
