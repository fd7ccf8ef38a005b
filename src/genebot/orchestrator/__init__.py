"""The strategy orchestrator: capital allocation across the strategies of one account."""

from genebot.orchestrator.commands import (
    CommandBus,
    EmergencyStop,
    ForceRebalance,
    PauseStrategy,
    ResumeStrategy,
)
from genebot.orchestrator.runtime import AllocationChange, Orchestrator
from genebot.orchestrator.settings import OrchestratorSettings

__all__ = [
    "AllocationChange",
    "CommandBus",
    "EmergencyStop",
    "ForceRebalance",
    "Orchestrator",
    "OrchestratorSettings",
    "PauseStrategy",
    "ResumeStrategy",
]
