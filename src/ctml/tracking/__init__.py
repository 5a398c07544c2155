"""Tracking (L2 domain): runs with params, metrics, tags and artifacts, over the metadata and artifact ports."""

from ctml.tracking._environment import capture_environment, git_commit
from ctml.tracking._tracker import ActiveRun, Tracker

__all__ = ["ActiveRun", "Tracker", "capture_environment", "git_commit"]
