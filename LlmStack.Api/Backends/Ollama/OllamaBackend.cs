using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using LlmStack.Api.Backends.Upstream;
using LlmStack.Api.Models;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OllamaSharp.Models;

namespace LlmStack.Api.Backends.Ollama;

/// <summary>
/// <c>ollama</c>: a model served by an Ollama server, through OllamaSharp. <c>NumCtx</c> and <c>KeepAlive</c>
/// travel with every request (Ollama has no per-model server setting for them); the model is ready once the
/// server answers and has it pulled.
/// </summary>
internal sealed partial class OllamaBackend(UpstreamHttpClients httpClients) : IModelBackend
{
    // A probe that waits longer than this only tells the prober what a timeout would: the server is stuck.
    private static readonly TimeSpan ReadinessProbeTimeout = TimeSpan.FromSeconds(10);

    public string Name => "ollama";

    public IEnumerable<string> Validate(ModelOptions options, string keyPrefix)
    {
        foreach (var failure in UpstreamModelValidation.Validate(options, keyPrefix, "http://localhost:11434"))
        {
            yield return failure;
        }
        if (options.NumCtx is <= 0)
        {
            yield return $"{keyPrefix}:NumCtx must be a positive number of tokens (e.g. 8192), not {options.NumCtx}.";
        }
        if (options.KeepAlive is not null && KeepAliveFor(options.KeepAlive) is null)
        {
            yield return $"{keyPrefix}:KeepAlive '{options.KeepAlive}' is not a duration Ollama understands " +
                         "(e.g. 30m, 1h, 0 to unload at once, -1 to keep loaded).";
        }
    }

    public ServedModel Create(ModelOptions options)
    {
        var http = httpClients.CreateClient(options);
        http.BaseAddress = UpstreamModelValidation.BaseAddress(options);
        var ollama = new OllamaServerClient(http, options.BackendModelName);

        var chat = new ChatClientBuilder(ollama)
            // A model Ollama does not have is one being pulled (the AppHost pulls at start): "loading", not "no such model".
            .Use(inner => new UpstreamErrorChatClient(inner, options.Id, MissingModel.Loading))
            .Use(inner => new OllamaDoneCheckChatClient(inner, options.Id))
            .ConfigureOptions(chatOptions => ApplyModelOptions(chatOptions, options))
            .Build();
        var embeddings = new EmbeddingGeneratorBuilder<string, Embedding<float>>(ollama)
            .Use(inner => new UpstreamErrorEmbeddingGenerator(inner, options.Id, options.FirstTokenTimeout, MissingModel.Loading))
            .ConfigureOptions(embeddingOptions => embeddingOptions.ModelId = options.BackendModelName)
            .Build();

        ServedModel? served = null;
        served = new ServedModel
        {
            Id = options.Id,
            Backend = Name,
            ChatClient = chat,
            EmbeddingGenerator = embeddings,
            OwnedBy = "ollama",
            ContextLength = options.NumCtx,
            FirstTokenTimeout = options.FirstTokenTimeout,
            CheckReadyAsync = cancellationToken => CheckReadyAsync(ollama, options, served!, cancellationToken),
        };
        return served;
    }

    private static void ApplyModelOptions(ChatOptions chatOptions, ModelOptions options)
    {
        // The request names the model as clients know it; Ollama knows it by its own name.
        chatOptions.ModelId = options.BackendModelName;
        if (options.NumCtx is { } numCtx)
        {
            (chatOptions.AdditionalProperties ??= []).TryAdd(OllamaOption.NumCtx.Name, numCtx);
        }
        if (options.KeepAlive is { } keepAlive)
        {
            (chatOptions.AdditionalProperties ??= []).TryAdd("keep_alive", KeepAliveFor(keepAlive));
        }
    }

    /// <summary>
    /// Ollama takes keep_alive as a Go duration ("30m", "1h30m", "-1m") when it is a string, which is how
    /// OllamaSharp sends it; a bare number of seconds ("-1", "300"), which Ollama only accepts as a JSON
    /// number, is given its unit here. Null when the value is neither.
    /// </summary>
    internal static string? KeepAliveFor(string value)
    {
        var trimmed = value.Trim();
        if (long.TryParse(trimmed, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds))
        {
            return seconds + "s";
        }
        return GoDuration().IsMatch(trimmed) ? trimmed : null;
    }

    private async Task<HealthCheckResult> CheckReadyAsync(
        OllamaServerClient ollama, ModelOptions options, ServedModel served, CancellationToken cancellationToken)
    {
        var name = options.BackendModelName;
        using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        probe.CancelAfter(ReadinessProbeTimeout);
        try
        {
            var shown = await ollama.ShowModelAsync(new ShowModelRequest { Model = name }, probe.Token);
            served.ContextLength = options.NumCtx ?? NumCtxOf(shown.Parameters);
            return HealthCheckResult.Healthy($"model {name} is pulled at {options.Endpoint}");
        }
        catch (UpstreamHttpException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return HealthCheckResult.Unhealthy($"model {name} is not pulled yet at {options.Endpoint} (ollama pull {name})");
        }
        catch (UpstreamHttpException ex)
        {
            return HealthCheckResult.Unhealthy($"Ollama at {options.Endpoint} answered {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var reason = probe.IsCancellationRequested ? $"no answer within {ReadinessProbeTimeout.TotalSeconds:0} s"
                : ex.InnerException is TimeoutException connectTimeout ? connectTimeout.Message
                : ex.Message;
            return HealthCheckResult.Unhealthy($"Ollama at {options.Endpoint} is unreachable: {reason}", ex);
        }
    }

    // The Modelfile's num_ctx, when the model sets one; without it Ollama uses its server-wide default.
    private static int? NumCtxOf(string? parameters) =>
        parameters is not null && NumCtxParameter().Match(parameters) is { Success: true } match &&
        int.TryParse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture, out var numCtx)
            ? numCtx
            : null;

    [GeneratedRegex(@"^-?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$")]
    private static partial Regex GoDuration();

    [GeneratedRegex(@"^\s*num_ctx\s+(\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex NumCtxParameter();
}
