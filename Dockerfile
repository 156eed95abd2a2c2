# toolgate: build with cargo, run as a non-root user from a minimal image.
#   docker build -t toolgate .
#   docker run --rm -v "$PWD/deploy/compose:/etc/toolgate:ro" -p 8080:8080 toolgate

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin toolgate \
 && install -m 0755 target/release/toolgate /toolgate

# distroless: glibc and CA certificates, no shell, no package manager; uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /toolgate /usr/local/bin/toolgate
USER nonroot:nonroot
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=4s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/toolgate", "health", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/toolgate"]
CMD ["serve", "--config", "/etc/toolgate/toolgate.yaml", "--listen", "0.0.0.0:8080"]
