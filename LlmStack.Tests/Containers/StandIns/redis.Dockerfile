# A stand-in for the official redis image where no registry answers: Debian's redis-server package, laid out the way
# the official image is (the redis user is uid 999, data in /data, redis-server and redis-cli on PATH). Tagged
# llmstack-test/redis, never redis: the tests point the compose project at it through an override file.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# The user first, so the package takes it as it is; no service may start during the build (the package's postinst would try).
RUN groupadd --system --gid 999 redis && useradd --system --uid 999 --gid 999 --home-dir /data --no-create-home redis \
    && printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
    && apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && mkdir -p /data && chown redis:redis /data
WORKDIR /data
VOLUME /data
USER redis
EXPOSE 6379
CMD ["redis-server"]
