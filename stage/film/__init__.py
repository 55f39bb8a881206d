"""Film path: decoding thread, loop, timecode, the film clock."""
