# Source this file to enter EZShop's built environment (bash):
#   source scripts/env.sh            venv + ROS (wheels or sourced distro) + this workspace
#   source scripts/env.sh --no-workspace   the same without install/ (used by setup)
# It keeps DDS on this machine (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) and loads the
# project's Fast DDS profile (shared memory + loopback UDP) so camera images arrive intact.
_ezshop_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_ezshop_nounset=0; case $- in *u*) _ezshop_nounset=1; set +u;; esac

if [ -z "${VIRTUAL_ENV:-}" ] || [ "$VIRTUAL_ENV" != "$_ezshop_root/.venv" ]; then
  # shellcheck disable=SC1091
  source "$_ezshop_root/.venv/bin/activate"
fi
if [ -z "${ROS_DISTRO:-}" ]; then
  # ROS 2 from PyPI wheels: the venv is the ROS prefix.
  export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
  _ezshop_lib="$VIRTUAL_ENV/lib"
  case ":${LD_LIBRARY_PATH:-}:" in *":$_ezshop_lib:"*) ;; *)
    export LD_LIBRARY_PATH="$_ezshop_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}";; esac
fi
if [ "${1:-}" != "--no-workspace" ] && [ -f "$_ezshop_root/install/setup.bash" ]; then
  # shellcheck disable=SC1091
  source "$_ezshop_root/install/setup.bash"
fi

export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$_ezshop_root/src/ezshop_bringup/config/fastdds_localhost.xml}"
export EZSHOP_ROOT="$_ezshop_root"
# Face photos: the shipped ones unless EZSHOP_FACES is set (see ezshop_common.paths).
export PYTHONUNBUFFERED=1

[ "$_ezshop_nounset" = 1 ] && set -u
unset _ezshop_root _ezshop_nounset _ezshop_lib
