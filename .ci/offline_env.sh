# Sourced by .ci/offline and .ci/colab: the conditions of a fresh clone offline (issue 8).
# UNET_DATA_DIR points at an empty folder (it stands for the clone's own empty data/), and `offline CMD …` runs a
# command in a network namespace with only the loopback device (kernels and the tests' local servers need
# 127.0.0.1), so the real download fails and the built-in EM-like data stands in. Where namespaces are not allowed
# (not root), downloads go to a closed local port instead.
offline_data=$(mktemp -d)
trap 'rm -rf "$offline_data"' EXIT
export UNET_DATA_DIR="$offline_data"
if unshare -n true 2>/dev/null; then
    offline() { unshare -n -- sh -c 'ip link set lo up && exec "$@"' sh "$@"; }
    echo "offline: a network namespace with only the loopback device; UNET_DATA_DIR is an empty folder"
else
    export UNET_DATA_URL="http://127.0.0.1:9/"
    offline() { "$@"; }
    echo "offline: downloads go to a closed local port; UNET_DATA_DIR is an empty folder"
fi
