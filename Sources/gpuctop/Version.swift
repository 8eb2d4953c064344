// The one place gpuctop's version is written. `gpuctop --version` prints it, the man page's
// footer and the exporter's gpuctop_info carry it, and scripts/package.sh and
// scripts/build-image.sh name the .deb, the tarball and the image after it.
// (Not in main.swift: a global there is set only when main runs, which tests do not.)
let gpuctopVersion = "0.1.0"
