# kvfleet image: the ext_proc service (`serve`) and the simulated replicas (`sim`).
# Used by docker-compose.yml; build with `docker build -t kvfleet .`.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
# Only what runs: compiled JS, production dependencies (they include the Envoy
# ext_proc .proto files via @grpc/grpc-js-xds), and the launcher.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY proto ./proto
# The dashboard's static page (GET /dashboard on the admin port).
COPY dashboard ./dashboard
USER node
# 9002 ext_proc gRPC, 9003 admin (/metrics, /healthz, /readyz, /dashboard)
EXPOSE 9002 9003
ENTRYPOINT ["node", "bin/kvfleet.js"]
CMD ["serve", "-c", "/etc/kvfleet/fleet.yaml"]
