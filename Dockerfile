# The pbxsync image: one static binary, the CA certificates that verify a PBX's TLS,
# and nothing else: no shell, no package manager, a user that is not root. Build it
# from a clone of the repository, whose tag and commit `pbxsync version` then names:
#
#   docker build -t registry.example.com/pbxsync:1.0.0 .
#   podman build -t registry.example.com/pbxsync:1.0.0 .
#   buildah build -t registry.example.com/pbxsync:1.0.0 .
#
# GO_IMAGE names the Go toolchain image to build with, a mirror of it for example:
# --build-arg GO_IMAGE=mirror.example.com/library/golang:1.26-bookworm
ARG GO_IMAGE=golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/pbxsync ./cmd/pbxsync

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/pbxsync /pbxsync
# 65532 is distroless' nonroot, which the Kubernetes examples run as (runAsUser).
USER 65532:65532
ENTRYPOINT ["/pbxsync"]
