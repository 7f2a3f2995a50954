#!/usr/bin/env bash
# scripts/wasm.sh — builds Ankurah for the browser and runs its browser tests.
#
# Idempotent; exits non-zero on any failure. Needs only the package registries (Debian,
# crates.io, npm), and root for apt when a package is missing. Steps:
#   1. apt: Debian's Rust 1.96 for the web (rustc-web, cargo-web, rust-web-src), wasm-ld
#      (lld-22) and Chromium. The standard library for wasm32 is built from Debian's own
#      sources (-Zbuild-std); rustup's toolchain is left alone and never used here.
#   2. wasm-bindgen-cli, the exact version of the `wasm-bindgen` crate in Cargo.lock,
#      installed once into $ANKURAH_WASM_CACHE (default ~/.cache/ankurah-wasm), which CI
#      may keep between runs.
#   3. npm playwright-core and typescript in storage/indexeddb/browser (never a browser
#      download).
#   4. builds storage/indexeddb and the demo (examples/browser) for wasm32-unknown-unknown
#      into target/wasm (the native target dir is not touched), generates the JS bindings
#      and their TypeScript declarations, and compiles the demo's TypeScript with tsc
#      (strict), which type-checks it against them.
#   5. runs the browser tests in headless Chromium (storage/indexeddb/browser/run.mjs): the
#      storage conformance suite on IndexedDB, a reload that finds the data again, a live
#      query, and the demo page in two browser contexts beside a native client through the
#      native example server (built with the ordinary toolchain), with tokens: text and LWW
#      edits converge, deletes, a reload offline, an offline edit synced on return.
#      ANKURAH_BENCH=N adds the benchmarks of docs/PERFORMANCE.md.
# Usage: scripts/wasm.sh [setup|build|test|demo|all]   (default: all; demo installs and builds, then
# serves the browser demo of examples/browser on http://127.0.0.1:8080)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TARGET=wasm32-unknown-unknown
APT_PKGS=(rustc-web cargo-web rust-web-src lld-22 chromium)
DEB_CARGO=/usr/bin/cargo DEB_RUSTC=/usr/bin/rustc DEB_RUSTDOC=/usr/bin/rustdoc
WASM_LD=/usr/bin/wasm-ld-22
CACHE=${ANKURAH_WASM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ankurah-wasm}
BROWSER_DIR=$ROOT/storage/indexeddb/browser
DEMO_DIR=$ROOT/examples/browser/www
WASM_TARGET_DIR=${ANKURAH_WASM_TARGET_DIR:-$ROOT/target/wasm}
CRATE=ankurah_storage_indexeddb
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

# The wasm-bindgen version the project builds with: the CLI must be the very same.
wb_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock
}

# Debian's toolchain by absolute path; the environment only for this one command.
wcargo() {
    env CARGO_TARGET_DIR="$WASM_TARGET_DIR" RUSTC="$DEB_RUSTC" RUSTDOC="$DEB_RUSTDOC" \
        RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$WASM_LD" \
        nice -n 10 "$DEB_CARGO" "$@"
}

setup() {
    local missing=() p
    for p in "${APT_PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "apt: installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    "$DEB_RUSTC" --version
    "$WASM_LD" --version
    test -f /usr/lib/rustlib/src/rust/library/Cargo.lock || { echo "rust-web-src: std sources missing" >&2; return 1; }
    /usr/bin/chromium --version

    local version bin
    version=$(wb_version)
    [[ -n "$version" ]] || { echo "no wasm-bindgen in Cargo.lock" >&2; return 1; }
    bin=$CACHE/wasm-bindgen-$version/bin/wasm-bindgen
    if [[ "$("$bin" --version 2>/dev/null)" != "wasm-bindgen $version" ]]; then
        # Not --locked: the CLI's own lockfile pins crates the registry may no longer have.
        env RUSTC="$DEB_RUSTC" CARGO_TARGET_DIR="$CACHE/build" nice -n 10 "$DEB_CARGO" install -q \
            wasm-bindgen-cli --version "$version" --root "$CACHE/wasm-bindgen-$version"
    fi
    "$bin" --version

    (cd "$BROWSER_DIR" && if ! node -e 'require("playwright-core"); require("typescript")' 2>/dev/null; then
        npm ci -s --no-audit --no-fund
    fi && node -p '"playwright-core " + require("playwright-core/package.json").version + ", typescript " + require("typescript").version')
}

build() {
    wcargo build --release -p ankurah-storage-indexeddb --features conformance \
        -Zbuild-std=std,panic_abort --target "$TARGET"
    "$CACHE/wasm-bindgen-$(wb_version)/bin/wasm-bindgen" --target web --out-dir "$BROWSER_DIR/pkg" \
        "$WASM_TARGET_DIR/$TARGET/release/$CRATE.wasm"
    ls -l "$BROWSER_DIR/pkg/${CRATE}_bg.wasm"
    wcargo build --release -p ankurah-browser-demo -Zbuild-std=std,panic_abort --target "$TARGET"
    "$CACHE/wasm-bindgen-$(wb_version)/bin/wasm-bindgen" --target web --out-dir "$DEMO_DIR/pkg" \
        "$WASM_TARGET_DIR/$TARGET/release/ankurah_browser_demo.wasm"
    # The demo's TypeScript against the generated declarations (www/types.ts proves they
    # are typed, not `any`); writes www/app.js.
    "$BROWSER_DIR/node_modules/.bin/tsc" -p "$ROOT/examples/browser"
    echo "tsc: examples/browser type-checks against the generated declarations"
}

# Serves the demo page, with a link per user (their tokens from the `token` example); the
# example server must run (see the README).
demo() {
    cargo build -q -p ankurah-examples --bin token
    local user
    for user in alice bob; do
        echo "demo: http://127.0.0.1:8080/?user=$user&token=$(cargo run -q -p ankurah-examples --bin token -- "$user")"
    done
    echo "demo: start the server too: cargo run -p ankurah-examples --bin server"
    (cd "$BROWSER_DIR" && node run.mjs --serve "$DEMO_DIR" 8080)
}

browser_test() {
    # The native server, client and token signer the demo test runs beside two browser
    # contexts (and the benchmark's native committer).
    cargo build -q -p ankurah-examples --bin server --bin client --bin token
    if [[ -n "${ANKURAH_BENCH:-}" ]]; then cargo build -q -p ankurah-bench --bin browser_latency; fi
    (cd "$BROWSER_DIR" && ANKURAH_EXAMPLES="${CARGO_TARGET_DIR:-$ROOT/target}/debug" timeout 600 node run.mjs)
}

declare -A took
phase() {
    local start=$SECONDS
    echo "=== $1"
    "$1"
    took[$1]=$((SECONDS - start))
}

case "${1:-all}" in
    setup) phase setup ;;
    build) phase build ;;
    test) phase browser_test ;;
    demo) phase setup; phase build; demo ;;
    all) phase setup; phase build; phase browser_test ;;
    *) echo "usage: $0 [setup|build|test|demo|all]" >&2; exit 2 ;;
esac
for name in "${!took[@]}"; do echo "wasm.sh: $name took ${took[$name]}s"; done
