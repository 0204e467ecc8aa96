# The Qualys WAS connector as a container: `connector serve` with scheduled syncs and
# /healthz, /readyz and /metrics on service.listen (port 9108). See the README's Deployment section.
# The base image is pinned to an exact Python release (the one the tests run on); dependencies
# install at the exact versions of constraints.txt, which `make` also installs for the tests.
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Install the package from the copied source, exactly as the README says.
WORKDIR /src
COPY constraints.txt pyproject.toml README.md ./
COPY connector/ connector/
COPY migrations/ migrations/
RUN pip install --constraint constraints.txt .

# Run as an unprivileged user (numeric, so Kubernetes' runAsNonRoot can verify it); /data holds
# the SQLite database.
RUN useradd --create-home --uid 10001 --user-group connector \
    && mkdir -p /data /etc/connector \
    && chown 10001:10001 /data

# Configuration: a mounted config.toml, overridden by environment variables. The password comes
# from $QUALYS_PASSWORD or the mounted secret file /run/secrets/qualys_password.
ENV CONNECTOR_CONFIG=/etc/connector/config.toml \
    CONNECTOR_DATABASE_URL=sqlite:////data/connector.db \
    CONNECTOR_SERVICE_LISTEN=0.0.0.0:9108 \
    CONNECTOR_SERVICE_LOG_FORMAT=json \
    CONNECTOR_QUALYS_PASSWORD_FILE=/run/secrets/qualys_password

USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 9108

# The probe asks the port CONNECTOR_SERVICE_LISTEN names (the environment wins over config.toml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('CONNECTOR_SERVICE_LISTEN', ':9108').rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]

ENTRYPOINT ["connector"]
CMD ["serve"]
