# syntax=docker/dockerfile:1
# The current Node.js LTS on Debian bookworm, pinned by digest (the multi-platform index of the tag): a rebuild gets
# the same bytes until this line changes. To update, look up the tag's digest (`docker buildx imagetools inspect
# node:<version>-bookworm-slim`) and replace both; .nvmrc names the same major version.
ARG NODE_IMAGE=node:24.19.0-bookworm-slim@sha256:cd84903a12dbd26b46f1f3b8144a2568c41c5d37ddd0c7a80a34c7a19786b35f

# Build stage: full dependencies, compile TypeScript with the Nest CLI (nest-cli.json).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev --omit=optional

# Runtime stage: production dependencies and compiled code only, as a non-root user.
FROM ${NODE_IMAGE}
# Also what an unset NODE_ENV means (src/config/app-config.ts); said here so that `docker inspect` shows it.
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
USER node
# The API; and the Prometheus scrape, which listens on loopback unless METRICS_HOST says otherwise.
EXPOSE 3000 9464
# Ready = the database and the queue backend answer (GET /health/ready). The image has no curl: Node's fetch asks.
# A worker container has no HTTP listener: docker-compose.yml turns this check off for it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 3000}/health/ready`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# `docker run IMAGE` serves the API; `docker run IMAGE dist/src/worker.js` runs the worker.
ENTRYPOINT ["node"]
CMD ["dist/src/main.js", "--api-only"]
