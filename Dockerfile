# Build: a static binary (the SQLite driver is pure Go, so no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/recontact ./cmd/recontact

# Run: nothing but the binary and CA certificates for the helpdesk APIs. Root,
# because Fly mounts volumes owned by root and the SQLite file lives there.
FROM gcr.io/distroless/static-debian12
COPY --from=build /out/recontact /recontact
ENV PORT=8080 DATABASE_URL=sqlite:/data/recontact.db
EXPOSE 8080
ENTRYPOINT ["/recontact"]
