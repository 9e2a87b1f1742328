# Both binaries from one build; one small image each (`make images`, scripts/images.sh):
#   docker build --target issuer -t permisos/issuer:0.1.0 .
# No `# syntax=` line: it would make BuildKit pull a frontend image, which a machine
# without registry access cannot; the built-in frontend runs everything below.

# Where the binaries come from: `build` compiles them in the Rust image; `prebuilt` takes
# release binaries built on a Debian 12 host (bin/issuer, bin/validator in the build
# context), for a machine that can pull no Rust image. The final stages are the same.
ARG BINARIES=build

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin issuer --bin validator \
 && mkdir /out && cp target/release/issuer target/release/validator /out/

FROM scratch AS prebuilt
COPY bin/issuer bin/validator /out/

FROM ${BINARIES} AS binaries

# glibc and libgcc only, CA certificates and time-zone data, no shell, no package manager;
# runs as uid 65532. Where it cannot be pulled, scripts/images.sh makes its equivalent.
FROM gcr.io/distroless/cc-debian12:nonroot AS issuer
COPY --from=binaries /out/issuer /usr/local/bin/issuer
# Shown by the build_info metric.
ARG GIT_REVISION=unknown
ENV GIT_REVISION=${GIT_REVISION}
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/issuer"]

FROM gcr.io/distroless/cc-debian12:nonroot AS validator
COPY --from=binaries /out/validator /usr/local/bin/validator
ARG GIT_REVISION=unknown
ENV GIT_REVISION=${GIT_REVISION}
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/validator"]
