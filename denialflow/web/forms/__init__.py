"""Checks for the admin forms, kept apart from the routers that render them.

A form's check takes what was submitted, as plain strings, and gives back the cleaned
values with a dict of errors by field name; a one-field check gives back why the value
cannot be used, or "" when it can. Each message names its field and says why, so a bad
value comes back beside its own field (and nothing is saved) instead of a framework error.
"""
