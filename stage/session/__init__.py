"""The TOML session file: its declaration (model), how it is read (load), and what `stage check`
prints of it (describe)."""

from .describe import describe
from .load import load_session
from .model import (AudioConfig, ControlConfig, CueConfig, DisplayConfig, FilmConfig, HitConfig, PlayerConfig,
                    Session, SessionError, SyncConfig)

__all__ = ["AudioConfig", "ControlConfig", "CueConfig", "DisplayConfig", "FilmConfig", "HitConfig", "PlayerConfig",
           "Session", "SessionError", "SyncConfig", "describe", "load_session"]
