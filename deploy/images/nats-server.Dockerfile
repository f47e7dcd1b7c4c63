# nats-server built here from github.com/nats-io/nats-server/v2 at the
# version go.mod names, the one shopmesh embeds. Like the official image,
# its entrypoint is the server, so compose.yml's command is its flags.
FROM scratch
COPY --chown=65534:65534 data /data
COPY nats-server healthcheck /usr/bin/
ENV PATH=/usr/bin
USER 65534:65534
ENTRYPOINT ["/usr/bin/nats-server"]
