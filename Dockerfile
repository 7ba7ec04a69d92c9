# syntax=docker/dockerfile:1
# Waygate's image: built in the Rust image, shipped as the binary alone on distroless/cc
# (glibc and libgcc, no shell, no package manager), running as distroless's `nonroot` user
# (uid 65532).
#
#   docker build -t waygate .
#   docker run --rm -p 8085:8085 -p 8900:8900 \
#     -e SERVERS_REGISTRY_SERVICE_ADDRESS=servers-registry:8999 -e AUTH_DB_CONNECTION=... waygate
#
# The binary looks for its configuration as ToCloud9's gateway does: `-c FILE`, then
# $CONFIG_FILE, then /app/config.yml (the working directory, which is also the
# executable's), then the environment alone. Mount a ToCloud9 config.yml at
# /app/config.yml, or a Waygate TOML file anywhere and pass `serve -c /path/waygate.toml`.
#
# Build arguments:
#   PROFILE           `dist` (LTO, one codegen unit: the packaged binary) or `release`
#                     (the faster build CI uses)
#   CARGO_BUILD_JOBS  parallel jobs for the build (default 2)

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS build
ARG PROFILE=dist
ARG CARGO_BUILD_JOBS=2
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --profile "${PROFILE}" -p waygate --bin waygate -j "${CARGO_BUILD_JOBS}" \
    && install -D -m 0755 "target/${PROFILE}/waygate" /out/waygate

# Debian 12, as the build stage, so the binary finds the glibc it was linked against.
FROM gcr.io/distroless/cc-debian12:nonroot
WORKDIR /app
COPY --from=build /out/waygate /app/waygate
USER nonroot:nonroot
# Game clients (PORT) and /healthcheck + /metrics (HEALTH_CHECK_PORT), ToCloud9's defaults.
EXPOSE 8085 8900
# SIGTERM: /healthcheck answers 503, players are logged out (up to 10 s), then exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/waygate"]
CMD ["serve"]
