"""Film path: decoding thread, loop, timecode, the transport, the cue director."""
