"""The TOML session file and its validation."""

from .model import (AudioConfig, DisplayConfig, FilmConfig, PlayerConfig, Session,
                    SessionError, load_session)

__all__ = ["AudioConfig", "DisplayConfig", "FilmConfig", "PlayerConfig", "Session",
           "SessionError", "load_session"]
