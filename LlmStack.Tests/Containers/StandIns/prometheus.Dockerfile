# A stand-in for prom/prometheus where no registry answers: Debian's own Prometheus package, run the way the
# official image runs it (as nobody, data in /prometheus, configuration passed by the compose file, the binary at
# /bin/prometheus - /bin is /usr/bin on Debian 12). Tagged llmstack-test/prometheus, never prom/prometheus: the tests
# point the compose project at it through an override file.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# No service may start during the build (the package's postinst would try).
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
    && apt-get update \
    && apt-get install -y --no-install-recommends prometheus wget \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && mkdir -p /prometheus && chown nobody:nogroup /prometheus
USER nobody
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
