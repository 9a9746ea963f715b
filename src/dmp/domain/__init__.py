"""Pure rules and types: no I/O, no framework, time is a parameter."""
