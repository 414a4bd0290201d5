#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Build Go commands from the Go module proxy once per machine and print their paths.
#
#   tests/rig/gobin.sh [OPTIONS] PACKAGE@VERSION [NAME]
#   tests/rig/gobin.sh [OPTIONS] MODULE@VERSION PATH...
#   tests/rig/gobin.sh --source MODULE@VERSION
#
# The first form builds one package with `go install PACKAGE@VERSION`. The second builds
# packages of one module in a copy of the module's source, with its own go.mod and go.sum, as
# upstream's release builds them (`go install` also asks the proxy for the module's list of
# versions, which the proxy refuses for some modules whose versions it serves); each PATH is
# relative to the module's root ("./cmd/promtool", or "." for the root itself, as a .promu.yml
# names them), and it prints one binary path a line, in the order given. The third builds
# nothing: it prints the directory of the module's source (read-only, downloaded through the
# proxy), for the files an image takes from the release, such as an example configuration.
#
# The binaries land in $RIG_CACHE/bin/<name>-<version>/ (name: NAME, or the last element of the
# first package path; the cache outlives the clone) beside a file `inputs` that records what
# built them: packages, version, options and the digests of the added files. A second run, or
# a second clone on the same machine, with the same inputs does not rebuild; other inputs rebuild
# in place. The version must be exact (no @latest). Builds are static (CGO_ENABLED=0) and run
# with none of the caller's Go settings (no go.work, no GOFLAGS), under a lock so two rigs
# starting at once build it once.
#
#   --ldflags FLAGS     added to '-s -w' (e.g. -X pkg.Version=... to stamp a version); in the
#                       second form {{sum}} stands for the module's go.sum hash (h1:...; the proxy
#                       knows no git commit) and {{released}} for the version's publication time on
#                       the proxy (20060102-15:04:05; not the clock: the stamp and the cache key
#                       stay the same from one build to the next)
#   --tags TAGS         build tags, comma-separated (e.g. netgo)
#   --promu             stamp github.com/prometheus/common/version the way promu (the release tool
#                       of the Prometheus projects) does: Version=the module's VERSION file (or its
#                       version without the v), Branch=HEAD, Revision={{sum}},
#                       BuildUser=opsdeck-rig@gobin, BuildDate={{released}}
#   --add-file REL=FILE FILE added at REL to the copy of the source: for files that the module zip
#                       lacks, such as web assets that upstream's release makes with npm
#   --as-tool           first form, for a module whose go.mod has replace directives, which `go
#                       install pkg@version` refuses: the package is added as a tool of a throwaway
#                       wrapper module (`go get -tool`), where those replaces do not apply, and built
# --promu, --add-file and {{...}} need the second form (they read the module).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/rig/lib.sh
. "$here/lib.sh"

usage='usage: gobin.sh [OPTIONS] PACKAGE@VERSION [NAME] | [OPTIONS] MODULE@VERSION PATH... | --source MODULE@VERSION'
ldflags='-s -w'
tags=''
promu=0
added=()
as_tool=0
source_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --ldflags) ldflags="$ldflags ${2:?--ldflags needs a value}"; shift 2 ;;
    --tags) tags=${2:?--tags needs a value}; shift 2 ;;
    --promu) promu=1; shift ;;
    --add-file) added+=("${2:?--add-file needs REL=FILE}"); shift 2 ;;
    --as-tool) as_tool=1; shift ;;
    --source) source_only=1; shift ;;
    --) shift; break ;;
    -*) die "gobin.sh: unknown option $1" ;;
    *) break ;;
  esac
done
spec=${1:?$usage}
shift
target=${spec%@*}
version=${spec##*@}
if [ "$target" = "$spec" ] || [ -z "$version" ]; then die "gobin.sh: '$spec' is not PACKAGE@VERSION"; fi
case "$version" in latest | upgrade | patch) die "gobin.sh: pin an exact version, not @$version" ;; esac
command -v go >/dev/null || die "go is not on PATH: it is needed to build from $spec"

export GOFLAGS=-buildvcs=false GOWORK=off GO111MODULE=on CGO_ENABLED=0

# module_source: the module's source directory (downloaded) in $moddir, its go.sum hash in $modsum.
module_source() {
  local json
  json=$(cd / && go mod download -json "$target@$version") || die "go mod download $target@$version failed: $json"
  moddir=$(printf '%s\n' "$json" | sed -n 's/^\t"Dir": "\(.*\)",\{0,1\}$/\1/p')
  modsum=$(printf '%s\n' "$json" | sed -n 's/^\t"Sum": "\(.*\)",\{0,1\}$/\1/p')
  [ -d "$moddir" ] || die "go mod download $target@$version printed no source directory"
}

if [ "$source_only" = 1 ]; then
  [ $# -eq 0 ] || die "gobin.sh --source takes MODULE@VERSION only"
  module_source
  printf '%s\n' "$moddir"
  exit 0
fi

pkgs=()
names=()
if [ $# -gt 0 ] && { [ "$1" = . ] || [ "${1#./}" != "$1" ]; }; then
  module_form=1
  rels=("$@")
  for rel in "${rels[@]}"; do
    case "$rel" in
      .) pkgs+=("$target") ;;
      ./*) pkgs+=("$target/${rel#./}") ;;
      *) die "gobin.sh: '$rel' is not a path in the module (./PATH or .)" ;;
    esac
    names+=("${pkgs[-1]##*/}")
  done
  name=${names[0]}
  [ "$as_tool" = 0 ] || die "gobin.sh: --as-tool is for the form PACKAGE@VERSION (the module form builds in its source)"
else
  module_form=0
  [ $# -le 1 ] || die "$usage"
  pkgs=("$target")
  name=${1:-${target##*/}}
  names=("$name")
  if [ "$promu" = 1 ] || [ ${#added[@]} -gt 0 ] || [[ $ldflags == *"{{"* ]]; then
    die "gobin.sh: --promu, --add-file and {{...}} in --ldflags need the form MODULE@VERSION PATH..."
  fi
fi

# What the binaries are made of: a change of any of it rebuilds them.
inputs="packages: ${pkgs[*]}
version: $version
ldflags: $ldflags
tags: $tags
promu: $promu
as-tool: $as_tool"
# FILE is made absolute here: the build runs in a temporary directory.
for i in "${!added[@]}"; do
  add=${added[i]}
  file=${add#*=}
  if [ "$file" = "$add" ] || [ ! -f "$file" ]; then die "gobin.sh: --add-file '$add' is not REL=FILE with an existing FILE"; fi
  file=$(realpath "$file")
  added[i]="${add%%=*}=$file"
  inputs="$inputs
add-file: ${add%%=*} sha256:$(sha256sum "$file" | cut -c1-64)"
done

dir="$RIG_CACHE/bin/$name-$version"
cached() {
  local n
  for n in "${names[@]}"; do [ -x "$dir/$n" ] || return 1; done
  [ -f "$dir/inputs" ] && [ "$(cat "$dir/inputs")" = "$inputs" ]
}

# The build, in the current directory (a fresh temporary one), into ./out/.
build_package() {
  if [ "$as_tool" = 1 ]; then
    go mod init opsdeck.local/build-"$name" && GOFLAGS=-mod=mod go get -tool "${pkgs[0]}@$version" \
      && go build "${flags[@]}" -o out/ "${pkgs[0]}"
  else
    GOBIN="$PWD/out" go install "${flags[@]}" "${pkgs[0]}@$version"
  fi
}
build_in_source() {
  local add out=$PWD/out
  cp -R "$moddir" src
  chmod -R u+w src
  for add in "${added[@]}"; do
    mkdir -p "$(dirname "src/${add%%=*}")"
    cp "${add#*=}" "src/${add%%=*}"
  done
  (cd src && go build "${flags[@]}" -o "$out/" "${rels[@]}")
}

if ! cached; then
  mkdir -p "$RIG_CACHE/bin"
  exec 9>"$RIG_CACHE/bin/.$name-$version.lock"
  flock 9
  # A binary of the earlier gobin.sh, whose cache key was name and version alone, has no inputs
  # file: it was built by the same command line, so it is kept.
  if [ "$module_form" = 0 ] && [ -x "$dir/$name" ] && [ ! -e "$dir/inputs" ]; then
    printf '%s\n' "$inputs" >"$dir/inputs"
  fi
  if ! cached; then
    buildlog="$RIG_STATE/build-$name.log"
    log "building ${names[*]} $version from the Go module proxy (first time on this machine; log: $buildlog)"
    start=$(date +%s)
    tmp=$(mktemp -d "$RIG_CACHE/bin/.$name-XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/out" "$RIG_STATE"
    flags=(-trimpath)
    [ -z "$tags" ] || flags+=(-tags "$tags")
    build=build_package
    if [ "$module_form" = 1 ]; then
      build=build_in_source
      module_source
      if [ "$promu" = 1 ]; then
        stamp=${version#v}
        [ ! -f "$moddir/VERSION" ] || stamp=$(tr -d '[:space:]' <"$moddir/VERSION")
        v=github.com/prometheus/common/version
        ldflags="$ldflags -X $v.Version=$stamp -X $v.Revision={{sum}} -X $v.Branch=HEAD"
        ldflags="$ldflags -X $v.BuildUser=opsdeck-rig@gobin -X $v.BuildDate={{released}}"
      fi
      released=$(cd / && go list -m -f '{{.Time.UTC.Format "20060102-15:04:05"}}' "$target@$version")
      ldflags=${ldflags//"{{sum}}"/"$modsum"}
      ldflags=${ldflags//"{{released}}"/"$released"}
    fi
    flags+=(-ldflags "$ldflags")
    if ! (cd "$tmp" && "$build") >"$buildlog" 2>&1; then
      tail -20 "$buildlog" >&2
      die "go build of ${pkgs[*]} $version failed"
    fi
    mkdir -p "$dir"
    rm -f "$dir/inputs"
    for n in "${names[@]}"; do
      mv "$tmp/out/$n" "$dir/$n.new"
      mv "$dir/$n.new" "$dir/$n"
    done
    printf '%s\n' "$inputs" >"$dir/inputs.new"
    mv "$dir/inputs.new" "$dir/inputs"
    log "built ${names[*]} $version in $(($(date +%s) - start)) s ($dir)"
  fi
fi
for n in "${names[@]}"; do printf '%s\n' "$dir/$n"; done
