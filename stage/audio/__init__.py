"""Audio path: PortAudio input, the ring buffer, the analysis thread."""
