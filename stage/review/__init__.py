"""Reviewing a take after the pass: its notes as MIDI for a DAW, a picture of the pass, and
the pass rendered to a video file.

- ``notes.py``: a monophonic line to notes (onset, offset, pitch, velocity) from the live
  tracker's rows (stage.audio.analysis), pure numpy;
- ``midifile.py``: notes to a Standard MIDI File (beats, or SMPTE division at a timecode);
- ``take.py``: a take folder read back for review (manifest, session if it can be loaded,
  audio, analysis, MIDI log, markers, the film's place at any capture time);
- ``transcribe.py``: ``stage transcribe`` for a sound file or a take;
- ``report.py``: ``stage report``, one picture of a pass (matplotlib);
- ``render.py``: ``stage render``, the pass as the stage drew it, to H.264 + AAC (PyAV).
"""
