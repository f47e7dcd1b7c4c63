# The shopmesh binary in a small image, for compose.yml.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /shopmesh ./cmd/shopmesh

FROM gcr.io/distroless/static-debian12
COPY --from=build /shopmesh /shopmesh
ENTRYPOINT ["/shopmesh"]
