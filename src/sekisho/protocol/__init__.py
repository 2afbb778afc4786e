"""The pure protocol core: no I/O, no clock, no randomness except through arguments.

Untrusted parameters become frozen dataclasses here; every MUST of the RFCs lives here.
"""
