# syntax=docker/dockerfile:1
# Both binaries from one build; one small image each (`make images`):
#   docker build --target issuer -t permisos/issuer:0.1.0 .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Shown by the build_info metric.
ARG GIT_REVISION=unknown
ENV GIT_REVISION=${GIT_REVISION}
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin issuer --bin validator \
 && mkdir /out && cp target/release/issuer target/release/validator /out/

# glibc and libgcc only, no shell, no package manager; runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot AS issuer
COPY --from=build /out/issuer /usr/local/bin/issuer
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/issuer"]

FROM gcr.io/distroless/cc-debian12:nonroot AS validator
COPY --from=build /out/validator /usr/local/bin/validator
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/validator"]
