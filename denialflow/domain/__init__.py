"""The pure domain: value types, rules and state machines.

No I/O, no clock: the workflow sandbox passes it through, and tests need no server.
"""
