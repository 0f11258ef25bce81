# Dr.LEE: bin/drlee (LuaJIT linked statically) on Debian bookworm, running as a non-root user.
#   docker build -t drlee .   (or make docker)
#   docker run --rm -p 8080:8080 drlee

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
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/drlee"]
CMD ["run", "/srv/examples/hello.lua"]
