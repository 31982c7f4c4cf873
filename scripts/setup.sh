#!/usr/bin/env bash
# Set up EZShop on a fresh machine: .venv with every pinned dependency, the ROS 2 wheels'
# CMake files repaired for this venv, and `colcon build`. Idempotent: a second run with nothing
# changed only re-checks and lets colcon find nothing to do.
#
# With a ROS 2 distribution already sourced (ROS_DISTRO set), its rclpy and message packages
# are used and no ROS wheels are installed; the venv then sees the system site-packages.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.ezshop-requirements.sha256"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }
warn() { printf '\033[1;33m[setup] warning:\033[0m %s\n' "$*" >&2; }

# --- system prerequisites -----------------------------------------------------------------
command -v "$PYTHON" >/dev/null || die "$PYTHON not found. Install Python 3.10-3.12 (apt-get install python3 python3-venv python3-dev)."
PY_VER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
case "$PY_VER" in
  3.10|3.11|3.12) ;;
  *) die "Python $PY_VER found; EZShop needs 3.10, 3.11 or 3.12 (set PYTHON=python3.11)." ;;
esac
command -v cc >/dev/null && command -v c++ >/dev/null \
  || die "a C/C++ compiler is needed to build ezshop_msgs: apt-get install build-essential"
"$PYTHON" -c 'import sysconfig, os, sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)' \
  || die "Python headers missing: apt-get install python3-dev (or python${PY_VER}-dev)"

# --- virtual environment --------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $PYTHON ($PY_VER)"
  if [ -n "${ROS_DISTRO:-}" ]; then
    "$PYTHON" -m venv --system-site-packages "$VENV" || die "venv failed: apt-get install python3-venv"
  else
    "$PYTHON" -m venv "$VENV" || die "venv failed: apt-get install python3-venv"
  fi
fi

REQ_FILES=(requirements.txt requirements-nodeps.txt)
[ -z "${ROS_DISTRO:-}" ] && REQ_FILES+=(requirements-ros.txt)
WANT="$(cat "${REQ_FILES[@]}" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  say "installing pinned Python dependencies (${REQ_FILES[*]})"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
  if [ -z "${ROS_DISTRO:-}" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-ros.txt
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
  echo "$WANT" > "$STAMP"
else
  say "Python dependencies up to date"
fi

# --- dlib on OpenBLAS, built for this CPU (the default; EZSHOP_DLIB_BLAS=0 opts out) ------
# dlib-bin (requirements.txt) is built without BLAS: one face encoding takes ~105 ms on a 2-core
# store PC, and in a crowd the cameras' frames came 0.4-0.8 s apart. The same dlib release built
# here against OpenBLAS with -march=native encodes in ~20 ms with identical embeddings (boxes
# equal, embeddings within 1e-6 on the dev photos) and detects as fast as dlib-bin (27 ms per
# 640x480 frame; without -march=native the build's HOG took 55 ms: dlib only asks for AVX,
# and dlib-bin's compiler vectorised more). Built once (~14 min on 2 cores); the wheel is
# cached per CPU (-march=native code must not run on another one). Without OpenBLAS (not root,
# no apt) or if the build fails, dlib-bin stays, with a warning; a failed build leaves a marker
# beside the wheels so later runs do not spend another ~14 min on it (delete it to retry).
have_openblas() { compgen -G '/usr/lib*/libopenblas.so' >/dev/null \
  || compgen -G '/usr/lib*/*/libopenblas.so' >/dev/null; }  # the -dev package's link
dlib_has_blas() { "$VENV/bin/python" -c 'import dlib, sys; sys.exit(0 if dlib.DLIB_USE_BLAS else 1)' 2>/dev/null; }
if [ "${EZSHOP_DLIB_BLAS:-1}" = 1 ] && ! dlib_has_blas; then
  if ! have_openblas && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing OpenBLAS for dlib (apt-get install libopenblas-dev liblapack-dev)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        libopenblas-dev liblapack-dev; } >/dev/null 2>&1 || warn "apt-get could not install OpenBLAS"
  fi
  if have_openblas; then
    DLIB_VERSION="$(sed -nE 's/^dlib-bin==([0-9]+\.[0-9]+\.[0-9]+).*/\1/p' requirements.txt)"
    PY_TAG="$("$VENV/bin/python" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')"
    CPU_KEY="$(grep -m1 -E '^(flags|Features)' /proc/cpuinfo | sha256sum | cut -c1-12)"
    WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/ezshop/wheels/cpu-$CPU_KEY"
    DLIB_WHEEL="$(ls "$WHEELS"/dlib-"$DLIB_VERSION"-"$PY_TAG"-*.whl 2>/dev/null | head -1 || true)"
    DLIB_FAILED="$WHEELS/dlib-$DLIB_VERSION-$PY_TAG.build-failed"
    if [ -z "$DLIB_WHEEL" ] && [ -e "$DLIB_FAILED" ]; then
      warn "building dlib $DLIB_VERSION failed here before: dlib-bin stays (face encoding ~5x" \
           "slower). To try again: rm $DLIB_FAILED && make setup"
    elif [ -z "$DLIB_WHEEL" ]; then
      say "building dlib $DLIB_VERSION against OpenBLAS for this CPU (once: ~14 min on 2 cores;" \
          "cached in $WHEELS; EZSHOP_DLIB_BLAS=0 make setup skips it)"
      mkdir -p "$WHEELS"
      # dlib's setup.py runs CMake (the system's, else the venv's) and passes DLIB_* variables
      # on; CMake takes CXXFLAGS as the compiler flags.
      PATH="$PATH:$VENV/bin" CXXFLAGS="-O3 -march=native" DLIB_USE_BLAS=ON DLIB_USE_LAPACK=ON \
        CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$VENV/bin/python" -m pip wheel --quiet \
        --disable-pip-version-check --no-deps --no-build-isolation --no-binary dlib \
        -w "$WHEELS" "dlib==$DLIB_VERSION" >/dev/null \
        || { warn "building dlib failed: dlib-bin stays (face encoding ~5x slower); not" \
                  "tried again until $DLIB_FAILED is deleted"; touch "$DLIB_FAILED"; }
      DLIB_WHEEL="$(ls "$WHEELS"/dlib-"$DLIB_VERSION"-"$PY_TAG"-*.whl 2>/dev/null | head -1 || true)"
    fi
    if [ -n "$DLIB_WHEEL" ]; then
      "$VENV/bin/python" -m pip uninstall --quiet --disable-pip-version-check -y dlib-bin
      "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
        --force-reinstall "$DLIB_WHEEL"
      dlib_has_blas && say "dlib $DLIB_VERSION uses OpenBLAS" \
        || warn "the dlib wheel in $WHEELS was built without BLAS: delete it and re-run make setup"
    fi
  else
    warn "no OpenBLAS: dlib-bin stays (face encoding ~5x slower). Install it with" \
         "apt-get install libopenblas-dev liblapack-dev, then run make setup again."
  fi
elif [ "${EZSHOP_DLIB_BLAS:-1}" != 1 ] && dlib_has_blas; then
  say "EZSHOP_DLIB_BLAS=0: going back to the pinned dlib-bin"
  "$VENV/bin/python" -m pip uninstall --quiet --disable-pip-version-check -y dlib
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    --force-reinstall "$(grep -E '^dlib-bin==' requirements.txt)"
fi

# --- espeak-ng: the greeter's voice ---------------------------------------------------------
# Without it the greeter only publishes its words (and says so once); its WAV test skips.
if ! command -v espeak-ng >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing espeak-ng for the greeter (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng; } \
      >/dev/null 2>&1 || warn "apt-get could not install espeak-ng: the greeter will not speak"
  else
    warn "no espeak-ng: the greeter will only publish its words (as root: apt-get install espeak-ng)"
  fi
fi

# --- a real browser for the console's tests (Debian chromium + chromium-driver) -------------
# selenium drives the system's chromium (playwright's own browser download does not work
# offline). Without them the browser tests skip and say why.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing chromium and chromium-driver for the console's browser tests (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        chromium chromium-driver; } >/dev/null 2>&1 \
      || warn "apt-get could not install chromium: the browser tests will skip"
  else
    warn "no chromium / chromedriver: the console's browser tests will skip" \
         "(as root: apt-get install chromium chromium-driver)"
  fi
fi

# --- repair the ROS wheels' CMake export files ----------------------------------------------
# The wheels were built in a manylinux container; their CMake files name its Python paths.
if [ -z "${ROS_DISTRO:-}" ]; then
  PY_INC="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  PY_SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  mapfile -t BROKEN < <(grep -rlE '/opt/python/cp3[0-9]+-cp3[0-9]+' "$VENV"/share/*/cmake/ 2>/dev/null || true)
  if [ "${#BROKEN[@]}" -gt 0 ]; then
    say "repairing hard-coded Python paths in ${#BROKEN[@]} CMake files of the ROS wheels"
    sed -i -E \
      -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#${PY_INC}#g" \
      -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages#${PY_SITE}#g" \
      "${BROKEN[@]}"
  fi
fi

# --- ROS 2 launch system and command line (not on PyPI) -------------------------------------
# launch, launch_ros, ros2launch, launch_testing, the ros2 CLI, rosidl_runtime_py and
# diagnostic_updater as wheels, plus composition_interfaces (launch_ros imports it) as source,
# from $EZSHOP_ROS_VENDOR (default ../shared/vendor/ros2, see its README.md and SOURCES.md).
# A full ROS 2 install (ROS_DISTRO set) has them already.
BASE_PATHS=(src)
if [ -z "${ROS_DISTRO:-}" ]; then
  ROS_VENDOR="${EZSHOP_ROS_VENDOR:-$ROOT/../shared/vendor/ros2}"
  if [ -d "$ROS_VENDOR/wheels" ]; then
    ROS_VENDOR="$(cd "$ROS_VENDOR" && pwd)"
    VENDOR_STAMP="$VENV/.ezshop-ros-vendor.sha256"
    VENDOR_WANT="$(cd "$ROS_VENDOR/wheels" && sha256sum ./*.whl | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$VENDOR_STAMP" 2>/dev/null)" != "$VENDOR_WANT" ]; then
      say "installing ros2 launch and CLI wheels from $ROS_VENDOR/wheels"
      "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
        "$ROS_VENDOR"/wheels/*.whl
      echo "$VENDOR_WANT" > "$VENDOR_STAMP"
    fi
    BASE_PATHS+=("$ROS_VENDOR/src")
  else
    # No vendor folder: the same packages from their upstream repositories, at the commits
    # pinned in requirements-ros-upstream.txt (needs git and access to github.com, or
    # $EZSHOP_ROS_GIT_URL pointing at mirrors).
    command -v git >/dev/null 2>&1 || die "no ROS 2 vendor folder at $ROS_VENDOR and no git to \
fetch launch and the ros2 CLI upstream: set EZSHOP_ROS_VENDOR, source a ROS 2 install, or \
install git (apt-get install git)"
    UPSTREAM_WORK="$VENV/ros-upstream"
    UPSTREAM_STAMP="$VENV/.ezshop-ros-upstream.sha256"
    UPSTREAM_WANT="$(sha256sum requirements-ros-upstream.txt | cut -d' ' -f1)"
    if [ "$(cat "$UPSTREAM_STAMP" 2>/dev/null)" != "$UPSTREAM_WANT" ] \
        || [ ! -d "$UPSTREAM_WORK" ]; then
      say "no ROS 2 vendor folder at $ROS_VENDOR: installing launch and the ros2 CLI from" \
          "their upstream repositories (requirements-ros-upstream.txt)"
      mkdir -p "$UPSTREAM_WORK"
      "$VENV/bin/python" scripts/ros_upstream.py requirements-ros-upstream.txt "$UPSTREAM_WORK" \
        > "$UPSTREAM_WORK.paths" \
        || die "could not install from upstream (no access to github.com?): set \
EZSHOP_ROS_VENDOR to the vendor folder (see its SOURCES.md) or source a ROS 2 install"
      echo "$UPSTREAM_WANT" > "$UPSTREAM_STAMP"
    fi
    mapfile -t UPSTREAM_PATHS < "$UPSTREAM_WORK.paths"
    BASE_PATHS+=("${UPSTREAM_PATHS[@]}")
  fi
fi

# --- colcon build ---------------------------------------------------------------------------
# shellcheck disable=SC1091
source "$ROOT/scripts/env.sh" --no-workspace
say "colcon build (ROS ${ROS_DISTRO:-kilted wheels})"
colcon --log-base "$ROOT/log" build --base-paths "${BASE_PATHS[@]}" --symlink-install \
  --event-handlers console_direct- console_start_end- summary+ \
  --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$VENV/bin/python" \
  || die "colcon build failed (see log/latest_build)"
date -u +%FT%TZ > "$ROOT/install/.ezshop-built"
say "done. Run commands in the environment with: scripts/run <command>  (or: make shell)"
