# syntax=docker/dockerfile:1
# The nsync controller image: `docker build -t ghcr.io/nsync-dev/nsync:0.1.0 .`
# Its entrypoint is the nsync CLI, so `docker run IMAGE run --help` is `nsync run --help`; the Helm
# chart and deploy/kustomize pass `run` and the flags as container args.

# Node 24 LTS, the same release package.json pins as a devDependency. Pin a digest in CI if you can.
ARG NODE_VERSION=24.21.0

# Stage 1: compile TypeScript (src/ -> dist/) with the full toolchain.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Stage 2: production dependencies only (the `node` devDependency and its download are skipped).
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund

# Final stage: distroless Node 24 (no shell, no package manager), as the non-root user 65532.
FROM gcr.io/distroless/nodejs24-debian12:nonroot
LABEL org.opencontainers.image.title="nsync" \
      org.opencontainers.image.description="Keeps Secrets and ConfigMaps in sync across Kubernetes namespaces" \
      org.opencontainers.image.source="https://github.com/nsync-dev/nsync" \
      org.opencontainers.image.licenses="Apache-2.0"
# Distroless keeps node in /nodejs/bin; put it on PATH so the entrypoint can say `node`.
ENV PATH=/nodejs/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    NODE_ENV=production \
    NODE_OPTIONS="--enable-source-maps --max-semi-space-size=4"
WORKDIR /app
# package.json carries "type": "module", which makes dist/*.js ES modules.
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
