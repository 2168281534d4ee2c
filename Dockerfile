# The lab server with the sim driver, its Debian packages and kubectl, built the way `npm start` builds
# on a Debian machine (scripts/bootstrap.sh does the installing). docker-compose.yml runs it with
# Postgres. Not exercised by CI: our CI machines have no Docker engine (docs/server.md, "Docker").
FROM node:22-bookworm

WORKDIR /opt/faultline
# Dependencies first, so a code change does not reinstall them.
COPY package.json package-lock.json ./
COPY scripts/ scripts/
# Debian packages for the sandboxes, kubectl from pkgs.k8s.io, the subordinate id range, npm dependencies.
RUN bash scripts/bootstrap.sh && rm -rf /var/lib/apt/lists/*

COPY . .
RUN npm run build

ENV FAULTLINE_HOST=0.0.0.0 \
    FAULTLINE_PORT=8080 \
    FAULTLINE_DATA_DIR=/var/lib/faultline
VOLUME /var/lib/faultline
EXPOSE 8080
# tini reaps what the server's children leave; the server itself stops sandboxes' supervisors cleanly.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "bin/faultline.js", "serve"]
