# The shopmesh image as deploy/cluster.sh builds it: binaries built here by
# `go build`, so there is no base image to pull. (The Dockerfile at the
# repository's root builds the same image where a registry can be reached.)
FROM scratch
COPY --chown=65534:65534 data /data
COPY shopmesh healthcheck /usr/bin/
ENV PATH=/usr/bin
USER 65534:65534
ENTRYPOINT ["/usr/bin/shopmesh"]
