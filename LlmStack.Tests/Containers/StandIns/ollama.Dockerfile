# A stand-in for ollama/ollama where no registry answers: the tests' Ollama-protocol server (OllamaStandIn, published
# self-contained for linux-x64 into app/), laid out the way the official image is - one `ollama` command as the
# entrypoint, `serve` by default, `list` and `pull` as clients of the server at OLLAMA_HOST, root, models in
# /root/.ollama. Tagged llmstack-test/ollama-standin, never ollama/ollama.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# What a self-contained .NET app loads (no ICU: the stand-in runs with invariant globalization).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 libstdc++6 zlib1g \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && mkdir -p /root/.ollama
COPY app/ /usr/lib/ollama-standin/
RUN ln -s /usr/lib/ollama-standin/ollama-standin /usr/bin/ollama
ENV OLLAMA_HOST=0.0.0.0:11434
EXPOSE 11434
ENTRYPOINT ["/usr/bin/ollama"]
CMD ["serve"]
