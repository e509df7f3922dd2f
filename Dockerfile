# syntax=docker/dockerfile:1
# jwrap as an image to copy from: `FROM scratch`, holding only /jwrap, the static binary for the
# image's architecture (amd64 or arm64), built from this checkout.
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t jwrap .
#
# and, in an application's multi-stage Dockerfile:
#
#   COPY --from=jwrap /jwrap /usr/local/bin/jwrap
#
# The build stage runs on the build machine's own architecture and cross-compiles for the
# target one: rust-lld links arm64 with no cross toolchain and no emulation. tests/release/run.sh
# runs this file's build steps and checks its structure.
FROM --platform=$BUILDPLATFORM rust:1.95-bookworm AS build
ARG TARGETARCH
WORKDIR /src
COPY . .
RUN scripts/build-static.sh "$TARGETARCH" \
 && mkdir -p target/image \
 && cp "target/jwrap-static-$TARGETARCH" target/image/jwrap

FROM scratch
COPY --from=build /src/target/image/jwrap /jwrap
ENTRYPOINT ["/jwrap"]
