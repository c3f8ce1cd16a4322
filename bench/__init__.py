"""Benchmarks, each printing its figure beside a baseline measured in the same run.

`python -m bench` runs the engine benchmark (bench/engine.py: claim workflows vs
empty workflows per second, worker memory with 10,000 open claims) and writes
var/bench/engine.json; `python -m bench NAME` runs bench/NAME.py.
"""
