"""The settings a session runs with, every one, as `stage check` prints them: the value (as the
file writes it, or the default), 'default' where the file does not set it, and what it is for.
All of it comes from the declaration in model.py."""

from __future__ import annotations

from .kinds import Section, Tables, toml_text
from .model import _SAME, Session, settings

KEY_WIDTH, VALUE_WIDTH = 18, 30


def describe(session: Session) -> list[str]:
    out: list[str] = []
    raw = session.raw if isinstance(session.raw, dict) else {}
    for s in settings(Session):
        value = getattr(session, s.name)
        given = raw.get(s.key)
        if isinstance(s.kind, Section):
            out.append(f"[{s.key}]" + ("" if s.key in raw else "  (not in the file: all defaults)"))
            out += _table(s.kind.cls, value, given or {}, 0)
        elif isinstance(s.kind, Tables):
            if s.name == "cues" and session.cues_from_film:
                out.append("[[cues]]  (none in the file: one cue, 'loop', over [film] in - out)")
                continue
            out += _tables(s.kind, s.key, value, given or [])
    return out


def _tables(kind: Tables, title: str, values: list, raws: list, indent: str = "") -> list[str]:
    out = []
    for i, (obj, r) in enumerate(zip(values, raws)):
        name = _get(obj, "name")
        out.append(f"{indent}[[{title}]]  # {i + 1}" + (f" {name}" if isinstance(name, str) else ""))
        out += _table(kind.cls, obj, r, i, indent)
    return out


def _table(cls, obj, raw: dict, i: int, indent: str = "") -> list[str]:
    out, nested = [], []
    for s in settings(cls):
        present = next((k for k in (s.key, *s.aliases) if k in raw), None)
        value = _get(obj, s.name)
        doc = s.doc
        if isinstance(s.kind, Tables) and present is not None and raw[present]:
            nested += _tables(s.kind, f"{cls._title.strip('[]')}.{s.key}", value, raw[present], indent + "  ")
            continue
        if present is not None:
            out.append(_row(indent, present, s.kind.show_given(raw[present], value), False, doc))
            continue
        if s.toml is not _SAME:
            default = s.toml(i) if callable(s.toml) else s.toml
            text = "not set" if default is None else toml_text(default)
        elif value is None or value == []:
            text = "not set" if s.unset or value is None else "[]"
        else:
            text = s.kind.show(value)
        if text == "not set" and s.unset:
            doc = f"{doc}; not set: {s.unset}"
        out.append(_row(indent, s.key, text, True, doc))
    return out + nested


def _row(indent: str, key: str, text: str, default: bool, doc: str) -> str:
    value = f"{text} (default)" if default else text
    return f"{indent}  {key:<{KEY_WIDTH}} {value:<{VALUE_WIDTH}}  {doc}".rstrip()


def _get(obj, name):
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
