# The file tailer's image (infra/k8s/tailer-deployment.yaml): the aisoc-k8s-audit CLI bundle on
# Node 22. The `tail` and `test-connection` commands are fully bundled (no node_modules needed;
# only `serve` loads the native better-sqlite3, which this image does not carry).
#
# From the repository root, after `npm ci && npm run build`:
#   docker build -f infra/k8s/tailer.Dockerfile -t aisoc-k8s-audit:0.1.0 .
FROM node:22-bookworm-slim
WORKDIR /app
COPY dist/cli.mjs /app/dist/cli.mjs
COPY dist/chunks /app/dist/chunks
ENV NODE_ENV=production
ENTRYPOINT ["node", "/app/dist/cli.mjs"]
CMD ["tail", "--help"]
