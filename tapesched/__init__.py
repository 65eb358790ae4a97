"""tapesched: a cron-driven scheduler for tape backup jobs."""

__version__ = "0.1.0"
