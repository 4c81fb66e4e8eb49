# Gatehouse: multi-stage build, production dependencies only, runs as a non-root user.
# TypeScript runs directly on Node 24 (type stripping), so there is no compile step.

FROM node:24-slim AS deps
WORKDIR /app
# bcrypt builds against the image's Node if no prebuilt binary fits.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# The image already has Node 24; skip the `node` devDependency and every other dev tool.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY views ./views
COPY migrations ./migrations
COPY config ./config
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Configure with ISSUER (https), SECRET_KEY and DATABASE_URL; see README.
CMD ["node", "src/main.ts"]
