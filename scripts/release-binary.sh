# Sourced by scripts/package.sh and scripts/build-image.sh (after `die` is defined): the
# release binary to ship, and its version from the one place it is kept (`--version`).
#   release_binary BIN   prints BIN, or builds the release binary and prints its path
#   release_version BIN  prints BIN's version, or dies when it has none usable
release_binary() {
    local bin=$1
    if [ -z "$bin" ]; then
        scripts/build-release.sh >&2
        bin=.build/release/gpuctop
    fi
    [ -x "$bin" ] || die "no executable at $bin"
    echo "$bin"
}

release_version() {
    local version
    version=$("$1" --version | awk '$1 == "gpuctop" { print $2 }')
    [[ $version =~ ^[0-9][0-9A-Za-z.+~]*$ ]] || die "'$1 --version' gave no usable version: '$version'"
    echo "$version"
}
