# Caddy built here from github.com/caddyserver/caddy/v2. Like the official
# image it has no entrypoint and keeps its state under /data and /config,
# so compose.yml runs either with the same command.
FROM scratch
COPY --chown=65534:65534 data /data
COPY --chown=65534:65534 data /config
COPY caddy healthcheck /usr/bin/
ENV PATH=/usr/bin XDG_DATA_HOME=/data XDG_CONFIG_HOME=/config
USER 65534:65534
