# Multi-stage build: compile with the Rust toolchain, run on a slim Debian as a non-root user.
FROM rust:1.95-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev libsqlite3-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY openapi ./openapi
# Cargo.toml names the integration-test target; its path must exist to load the manifest.
COPY tests ./tests
# System libpq (with TLS) and libsqlite3 instead of the bundled ones.
RUN cargo build --release --locked --no-default-features --bin trajectum

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 libsqlite3-0 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system trajectum \
    && useradd --system --gid trajectum --home-dir /var/lib/trajectum --create-home trajectum
COPY --from=build /src/target/release/trajectum /usr/local/bin/trajectum
USER trajectum
WORKDIR /var/lib/trajectum
ENV TRAJECTUM_HOST=0.0.0.0 \
    TRAJECTUM_PORT=8080 \
    TRAJECTUM_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health/ready || exit 1
ENTRYPOINT ["/usr/local/bin/trajectum"]
CMD ["serve"]
