"""Configuration of the whole application: one validated settings class and the secret it needs."""

from config.settings import Settings

__all__ = ["Settings"]
