#!/usr/bin/env bash
# Set up and run the tests: installs what they need, starts a JACK dummy server and Xvfb,
# runs pytest, stops the servers. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

export CI=1                                # a tool the tests need and do not find fails them; never skips
export JACK_NO_START_SERVER=1
export SDL_AUDIODRIVER=dummy
export SDL_FRAMEBUFFER_ACCELERATION=0      # without it every flip under Xvfb costs 10-16 ms
name="stage-ci-$$"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# JACK keeps eight servers' places in /dev/shm and takes one back only from a server of the same
# name: free the places of servers that died without saying so, or jackd says "Too many servers"
.venv/bin/python -c "from stage_testing import rig; rig.reclaim_dead_servers()"
jacklog=/tmp/"$name"-jackd.log
jackd --no-realtime -S -n "$name" -d dummy -r 48000 -p 256 -C 8 -P 8 >"$jacklog" 2>&1 &
pids+=($!)
for n in $(seq 99 140); do
    [[ -e /tmp/.X11-unix/X$n || -e /tmp/.X$n-lock ]] || break
done
Xvfb ":$n" -screen 0 1920x1080x24 -nolisten tcp >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    [[ -e /tmp/.X11-unix/X$n ]] && JACK_DEFAULT_SERVER="$name" jack_lsp >/dev/null 2>&1 && break
    sleep 0.1
done
if ! JACK_DEFAULT_SERVER="$name" jack_lsp >/dev/null 2>&1; then
    echo "test.sh: the JACK dummy server $name did not come up; jackd said:" >&2
    cat "$jacklog" >&2
    exit 1
fi
export JACK_DEFAULT_SERVER="$name"
export STAGE_TEST_JACK="$name"             # the fixtures use these servers instead of starting their own
export STAGE_TEST_DISPLAY=":$n"

.venv/bin/python -m pytest -q "$@"
