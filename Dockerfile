# The ML Lab Workspace Manager: nginx (the web app, /api, the workspace proxy) and the
# FastAPI backend, in one image.
#
#   docker build -t lab-workspace-manager .        (or: python3 build.py --make)
#
# Debian's Python 3.11 and nginx keep this to one base image that air-gapped sites can make
# themselves (build.py falls back to debootstrap when debian:bookworm-slim cannot be pulled).
# The web app is built on the host (webapp/dist, by build.py) and copied in.

FROM debian:bookworm-slim AS python-deps
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3 python3-venv ca-certificates > /dev/null \
 && rm -rf /var/lib/apt/lists/*
COPY backend/requirements.txt /tmp/requirements.txt
# Where pip must trust the host's CA bundle (a TLS-inspecting proxy), build.py leaves it at
# docker/build-ca.crt; it stays in this stage and never reaches the final image.
COPY docker/ /tmp/docker/
RUN if [ -f /tmp/docker/build-ca.crt ]; then export PIP_CERT=/tmp/docker/build-ca.crt; fi \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --quiet --no-cache-dir --disable-pip-version-check \
      -r /tmp/requirements.txt \
 && /opt/venv/bin/python -m pip uninstall --quiet --yes pip setuptools

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3 nginx-light libnginx-mod-http-lua curl tini iptables > /dev/null \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled /etc/nginx/conf.d/* \
 && useradd --system --uid 8080 --home-dir /data --shell /usr/sbin/nologin manager \
 && mkdir -p /data /srv/app /run/nginx /var/lib/nginx \
 && chown -R manager: /data /run/nginx /var/lib/nginx /var/log/nginx
COPY --from=python-deps /opt/venv /opt/venv
COPY backend/lab_workspace_manager /opt/app/lab_workspace_manager
COPY docker/nginx/ /etc/lab-workspace-manager/nginx/
COPY docker/start.sh /usr/local/bin/start-manager
COPY webapp/ /tmp/webapp/
# Where the web app's sources are, its build must be too: an image without its UI fails here.
RUN if [ -f /tmp/webapp/package.json ] && [ ! -f /tmp/webapp/dist/index.html ]; then \
      echo "webapp/dist/index.html is missing: build the web app first (python3 build.py --make)" >&2; \
      exit 1; \
    fi \
 && if [ -d /tmp/webapp/dist ]; then cp -r /tmp/webapp/dist/. /srv/app/; fi && rm -rf /tmp/webapp

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/opt/app \
    PYTHONUNBUFFERED=1 \
    DATA_DIR=/data \
    BACKEND_PORT=8081
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthy >/dev/null && curl -fsS http://127.0.0.1:8080/api/healthz >/dev/null || exit 1
LABEL org.opencontainers.image.title="ML Lab Workspace Manager"
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/start-manager"]
