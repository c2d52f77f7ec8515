"""Logging configured once, from a dictConfig, into `<log dir>/app.log`.

WatchedFileHandler reopens the file when logrotate (or anyone) moves it, so several worker
processes can append to one file and the file is safe to rotate from outside.
"""

from __future__ import annotations

import logging.config
from pathlib import Path
from typing import Any


def logging_config(log_dir: Path, level: str = "INFO") -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "line": {
                "format": "%(asctime)s %(levelname)s pid=%(process)d %(name)s %(message)s",
                "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            },
        },
        "handlers": {
            "app_file": {
                "class": "logging.handlers.WatchedFileHandler",
                "filename": str(log_dir / "app.log"),
                "formatter": "line",
                "encoding": "utf-8",
            },
            "console": {"class": "logging.StreamHandler", "formatter": "line", "level": "WARNING"},
        },
        "loggers": {
            "imagehost": {"handlers": ["app_file", "console"], "level": level, "propagate": False},
            "strawberry": {"handlers": ["app_file", "console"], "level": "WARNING", "propagate": False},
            # uvicorn's own set-up (when run as `uvicorn --factory`) gave these console handlers;
            # here they are replaced, so a worker's start-up chatter goes to app.log only.
            "uvicorn": {"handlers": ["app_file"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"handlers": [], "level": "INFO", "propagate": True},
        },
    }


def configure_logging(log_dir: Path) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    logging.config.dictConfig(logging_config(log_dir))
