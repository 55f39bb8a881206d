"""The pygame-ce loop and its layers."""
