# A stand-in for Docker Hub's caddy image where no registry answers: Debian's own Caddy package, laid out and run the
# way the official image runs it (root, its CA and certificates in /data, its autosave in /config, the Caddyfile at
# /etc/caddy/Caddyfile, wget for the health check). Tagged llmstack-test/caddy, never caddy: the tests point the
# compose project at it through an override file.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# No service may start during the build (the package's postinst would try).
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
    && apt-get update \
    && apt-get install -y --no-install-recommends caddy ca-certificates wget \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && mkdir -p /config /data /srv
ENV XDG_CONFIG_HOME=/config \
    XDG_DATA_HOME=/data
EXPOSE 80 443 2019
WORKDIR /srv
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
