"""``edgekit tune``: the most accurate model that meets a device's latency and size limits."""

from edgekit.tuning.config import LimitOptions, SearchOptions, TuneConfig
from edgekit.tuning.results import TrialRow, TrialState
from edgekit.tuning.search import TuneResult, tune

__all__ = ["LimitOptions", "SearchOptions", "TrialRow", "TrialState", "TuneConfig", "TuneResult", "tune"]
