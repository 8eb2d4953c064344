# Sourced by test-dockerd.sh and device-containers.sh: a private containerd's config.
# Our own config, never /etc/containerd/config.toml: no CRI plugin, no TCP listeners,
# nothing under /opt or /var/lib/containerd.
write_containerd_config() { # write_containerd_config DIR SOCKET: writes DIR/containerd.toml
    local dir=$1 sock=$2
    mkdir -p "$dir/containerd" "$dir/containerd-root" "$dir/containerd-state"
    cat >"$dir/containerd.toml" <<CONFIG
version = 2
root = "$dir/containerd-root"
state = "$dir/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/containerd-root/opt"
CONFIG
}
