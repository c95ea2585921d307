# syntax=docker/dockerfile:1
# Build stage: full dependencies, compile TypeScript with the Nest CLI (nest-cli.json).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev --omit=optional

# Runtime stage: production dependencies and compiled code only, as a non-root user.
FROM node:20-bookworm-slim
# Also what an unset NODE_ENV means (src/config/app-config.ts); said here so that `docker inspect` shows it.
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
USER node
# The API; and the Prometheus scrape, which listens on loopback unless METRICS_HOST says otherwise.
EXPOSE 3000 9464
# `docker run IMAGE` serves the API; `docker run IMAGE dist/src/worker.js` runs the worker.
ENTRYPOINT ["node"]
CMD ["dist/src/main.js", "--api-only"]
