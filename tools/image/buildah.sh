#!/usr/bin/env bash
# buildah with the project's own image storage: vfs (no overlay mounts, no fuse), kept in a cache
# outside the repository, so images built here never mix with the machine's other images.
#
#   bash tools/image/buildah.sh images
#   bash tools/image/buildah.sh from localhost/nsync:dev
#
# NSYNC_IMAGE_CACHE moves the cache (default ~/.cache/nsync/image).
set -euo pipefail

cache=${NSYNC_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nsync/image}
mkdir -p "$cache/storage" "$cache/run"
exec buildah --root "$cache/storage" --runroot "$cache/run" --storage-driver vfs "$@"
