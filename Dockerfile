# The Dockin image: one standalone executable (dist/bin/dockin, Bun embedded), run as
# `dockin rm serve` by the RM Deployment and as `dockin install` / `dockin doctor` by the
# node DaemonSet (deploy/kubernetes/). Build from the repository's root:
#   docker build -t dockin:0.2.0 .

# Build stage: npm ci brings the pinned Bun (@oven/bun-linux-x64); `npm run build` compiles every
# role into one executable with it (scripts/build.ts).
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build \
 && env -i dist/bin/dockin --help >/dev/null

# Runtime stage: no Node, no Bun, no npm. Never strip the executable: the application lives in an
# ELF section that strip removes.
FROM debian:12-slim
# iproute2: `dockin install` and `dockin doctor` read (and, for an uplink, change) the node's links
# with `ip`.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/dist/bin/dockin /usr/local/bin/dockin
# The plugin names are links to the same file: `docker run dockin dockin-ipam` works too.
RUN ln /usr/local/bin/dockin /usr/local/bin/dockin-cni \
 && ln /usr/local/bin/dockin /usr/local/bin/dockin-ipam
COPY setup.sh /usr/local/share/dockin/setup.sh
USER 0
EXPOSE 10002
ENTRYPOINT []
CMD ["dockin", "--help"]
