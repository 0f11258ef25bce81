# Dr.LEE: bin/drlee (LuaJIT linked statically) on Debian bookworm, running as a non-root user.
#   docker build -t drlee .   (or make docker)
#   docker run --rm -p 8080:8080 drlee
#   docker run -p 8080:8080 -p 9100:9100 -v "$PWD/app:/srv/app" drlee \
#       run --metrics 0.0.0.0:9100 --access-log - /srv/app/app.lua
# docker stop sends SIGTERM (drlee drains; give --stop-timeout more than --shutdown-timeout);
# docker kill -s HUP reloads the script without dropping a connection (README, "Running it
# in production"). Flags may also come as DRLEE_* variables (-e DRLEE_WORKERS=4).

FROM golang:1.26-bookworm AS builder
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		libluajit-5.1-dev pkg-config gcc libc6-dev make \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make build

FROM debian:bookworm-slim
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
	&& rm -rf /var/lib/apt/lists/* \
	&& useradd --system --user-group --home-dir /srv --no-create-home --shell /usr/sbin/nologin drlee
COPY --from=builder /src/bin/drlee /usr/local/bin/drlee
COPY examples/ /srv/examples/
USER drlee
WORKDIR /srv
EXPOSE 8080 9100
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/drlee"]
CMD ["run", "/srv/examples/hello.lua"]
