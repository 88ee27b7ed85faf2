# Shared by scripts/run and scripts/test: installs what is missing, from the package registries only.
# Sourced, not run. Every step is skipped when its tool is already there in the pinned version.

CARGO_LEPTOS_VERSION=0.3.10
# Must equal the wasm-bindgen pinned in Cargo.toml (and so Cargo.lock).
WASM_BINDGEN_VERSION=0.2.130
# What their first install takes on 2 cores, as measured (shown while they install).
CARGO_LEPTOS_MINUTES=17
WASM_BINDGEN_MINUTES=3

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf '\nvitals setup: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        fail "need root to run: $* (install it yourself, or install sudo)"; fi
}

APT_UPDATED=
apt_install() {
    command -v apt-get >/dev/null || fail "please install: $* (no apt-get on this machine)"
    [ -n "$APT_UPDATED" ] || { as_root apt-get update -qq && APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@"
}

ensure_rust_tools() {
    command -v cargo >/dev/null || fail "cargo not found: install Rust with rustup first (https://rustup.rs)"
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        step "Adding the wasm32-unknown-unknown target"
        rustup target add wasm32-unknown-unknown
    fi
}

# Build tools are installed without their fat-LTO, one-codegen-unit release profiles: those make
# them a little smaller and faster and take several times as long to compile.
quick_install() {
    env CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=true cargo install "$@"
}

has_wasm_bindgen() { wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; }

install_wasm_bindgen() {
    # Its own lockfile pins a crate the index cannot select, so --locked fails for this version.
    has_wasm_bindgen || quick_install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
}

# Only the development loop (scripts/dev) and its test need cargo-leptos: the release build below
# runs cargo, wasm-bindgen and wasm-opt itself.
ensure_cargo_leptos() {
    if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
        step "Installing cargo-leptos $CARGO_LEPTOS_VERSION (once; about $CARGO_LEPTOS_MINUTES minutes on 2 cores)"
        quick_install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
    fi
    has_wasm_bindgen || { step "Installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"; install_wasm_bindgen; }
}

ensure_node_packages() {
    command -v npm >/dev/null || { step "Installing Node.js and npm"; apt_install nodejs npm; }
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        step "Installing the pinned npm packages (ECharts, wasm-opt, Playwright)"
        # Playwright must never download a browser: the tests use Debian's Chromium.
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
    fi
    # ECharts is served from our own origin, never a CDN: cargo-leptos copies public/ into the site.
    mkdir -p public/vendor
    cmp -s node_modules/echarts/dist/echarts.min.js public/vendor/echarts.min.js ||
        cp node_modules/echarts/dist/echarts.min.js public/vendor/echarts.min.js
}

ensure_chromium() {
    command -v chromium >/dev/null || { step "Installing Debian's Chromium for the end-to-end tests"; apt_install chromium; }
}

ensure_prometheus() {
    command -v prometheus >/dev/null && command -v promtool >/dev/null ||
        { step "Installing Debian's Prometheus for the /metrics tests"; apt_install prometheus; }
}

ensure_tls_proxy_tools() {
    command -v nginx >/dev/null && command -v openssl >/dev/null && command -v curl >/dev/null ||
        { step "Installing nginx, openssl and curl for the TLS proxy test"; apt_install nginx-light openssl curl; }
}

ensure_systemd_tools() {
    command -v systemd-analyze >/dev/null ||
        { step "Installing systemd's tools to check the service unit"; apt_install systemd; }
}

ensure_smartmontools() {
    # Debian puts it in /usr/sbin, which only root's PATH has.
    command -v smartctl >/dev/null || [ -x /usr/sbin/smartctl ] ||
        { step "Installing smartmontools for the SMART tests"; apt_install smartmontools; }
}

# The release build, as `cargo leptos build --release --precompress` does it (same commands, target
# folders and build-time variables, so the two share their build caches), without needing
# cargo-leptos: the WebAssembly site first, then the server that embeds it (build.rs).
build_release() {
    export LEPTOS_OUTPUT_NAME=vitals LEPTOS_SITE_ROOT=target/site
    local wasm=target/front/wasm32-unknown-unknown/wasm-release/vitals.wasm stage=target/front/stage
    local installer=
    if ! has_wasm_bindgen; then
        # Compiled beside the WASM build: each leaves the other's single-threaded stretches busy.
        step "Installing wasm-bindgen-cli $WASM_BINDGEN_VERSION in the background (once; about $WASM_BINDGEN_MINUTES minutes)"
        mkdir -p target
        install_wasm_bindgen > target/wasm-bindgen-install.log 2>&1 &
        installer=$!
    fi
    step "Building the dashboard's WebAssembly (release)"
    cargo build --package=vitals --lib --target-dir=target/front --target=wasm32-unknown-unknown \
        --no-default-features --features=hydrate --profile=wasm-release
    if [ -n "$installer" ]; then
        wait "$installer" || { cat target/wasm-bindgen-install.log >&2; fail "installing wasm-bindgen-cli failed"; }
    fi
    if [ ! -f "$stage/vitals.wasm" ] || [ "$wasm" -nt "$stage/vitals.wasm" ]; then
        step "wasm-bindgen and wasm-opt"
        wasm-bindgen --target=web --no-typescript --out-name=vitals --out-dir="$stage" "$wasm"
        wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
            "$stage/vitals_bg.wasm" -o "$stage/vitals.wasm"
        rm "$stage/vitals_bg.wasm"
    fi
    node scripts/site.mjs "$stage" target/site
    step "Building the server (release), with the site inside"
    cargo build --package=vitals --bin=vitals --no-default-features --features=ssr --release
}
