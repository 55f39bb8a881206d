#!/usr/bin/env bash
# Set up stage in ./.venv: the Debian packages it needs, then the Python packages.
#   scripts/setup.sh          what `stage demo` needs (libportaudio2)
#   scripts/setup.sh --test   also what the tests need (jackd2, xvfb, ffmpeg, liblo-tools, midicsv, pytest, JACK-Client)
#   scripts/setup.sh --bench  also what the pitch benchmark needs (its renderers and sound
#                             sets: fluidsynth with FluidR3 and TimGM6mb, timidity with
#                             freepats, STK; mir_eval and librosa)
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(libportaudio2 libsndfile1)
extras=""
if [[ "${1:-}" == "--test" ]]; then
    pkgs+=(jackd2 xvfb ffmpeg liblo-tools midicsv)   # ffmpeg: ffprobe reads back the reels and takes the tests
    #                                        make; jackd2 brings jack_midi_dump; liblo-tools: oscsend, oscdump;
    #                                        midicsv reads back the takes' MIDI files
    extras="[test]"
elif [[ "${1:-}" == "--bench" ]]; then
    pkgs+=(jackd2 xvfb ffmpeg liblo-tools midicsv fluidsynth fluid-soundfont-gm timgm6mb-soundfont timidity freepats stk)
    extras="[test,bench]"
fi
command -v gcc >/dev/null 2>&1 || pkgs+=(gcc)           # aubio builds from source on some Pythons
python3 - <<'PY' || pkgs+=(python3-dev)
import os, sys, sysconfig
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)
PY
python3 -c "import venv, ensurepip" 2>/dev/null || pkgs+=(python3-venv)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
    sudo=""
    [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
    echo "stage setup: installing Debian packages: ${missing[*]}" >&2
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".${extras}"
