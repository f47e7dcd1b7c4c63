# The shopmesh image for compose.yml where a registry can be reached
# (`docker compose up --build`): built in a Go image, run FROM scratch.
# Where none can, deploy/cluster.sh builds the same image from binaries
# built on the machine (deploy/images/shopmesh.Dockerfile).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/shopmesh ./cmd/shopmesh \
 && go build -trimpath -ldflags="-s -w" -o /out/healthcheck ./deploy/healthcheck \
 && mkdir /out/data

FROM scratch
COPY --from=build --chown=65534:65534 /out/data /data
COPY --from=build /out/shopmesh /out/healthcheck /usr/bin/
ENV PATH=/usr/bin
USER 65534:65534
ENTRYPOINT ["/usr/bin/shopmesh"]
