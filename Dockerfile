# A small static image: the gateway is pure Go (the embedded SQLite driver too).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/gateway .

FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/gateway /app/gateway
ENV PORT=8080 DATA_DIR=/app/data
EXPOSE 8080
ENTRYPOINT ["/app/gateway"]
CMD ["serve"]
