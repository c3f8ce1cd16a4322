"""`denialflow simulate`: scenario files run through the real claim workflows on the
time-skipping test server. `denialflow.simulate.simulate_main` is the command;
`scenario` reads and checks the YAML, `runner` drives the clock and the workflows."""

from denialflow.simulation.runner import SimulationError, run_scenario
from denialflow.simulation.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "Scenario",
    "ScenarioError",
    "SimulationError",
    "load_scenario",
    "run_scenario",
]
