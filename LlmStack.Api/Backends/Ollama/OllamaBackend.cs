using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using LlmStack.Api.Backends.Upstream;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OllamaSharp.Models;

namespace LlmStack.Api.Backends.Ollama;

/// <summary>
/// <c>ollama</c>: a model served by an Ollama server, through OllamaSharp. <c>NumCtx</c> and <c>KeepAlive</c>
/// travel with every request (Ollama has no per-model server setting for them); the model is ready once the
/// server answers and has it pulled.
/// </summary>
internal sealed partial class OllamaBackend(IHttpClientFactory httpClients, ILogger<OllamaBackend> logger) : IModelBackend
{
    public const string BackendName = "ollama";

    public string Name => BackendName;

    public IEnumerable<string> Validate(ModelOptions options, string keyPrefix)
    {
        foreach (var failure in UpstreamModelValidation.Validate(options, keyPrefix, "http://localhost:11434"))
        {
            yield return failure;
        }
        if (options.Ollama.NumCtx is <= 0)
        {
            yield return $"{keyPrefix}:Ollama:NumCtx must be a positive number of tokens (e.g. 8192), not {options.Ollama.NumCtx}.";
        }
        if (options.Ollama.KeepAlive is not null && KeepAliveFor(options.Ollama.KeepAlive) is null)
        {
            yield return $"{keyPrefix}:Ollama:KeepAlive '{options.Ollama.KeepAlive}' is not a duration Ollama understands " +
                         "(e.g. 30m, 1h, 0 to unload at once, -1 to keep loaded).";
        }
    }

    public async Task<ServedModel> CreateAsync(ModelOptions options, CancellationToken cancellationToken)
    {
        var http = httpClients.CreateClient(UpstreamHttpClients.NameOf(options));
        http.BaseAddress = UpstreamModelValidation.BaseAddress(options);
        var ollama = new OllamaServerClient(http, options.BackendModelName);

        var chat = new ChatClientBuilder(ollama)
            // A model Ollama does not have is one being pulled (the AppHost pulls at start): "loading", not "no such model".
            .Use(inner => new UpstreamErrorChatClient(inner, options.Id, MissingModel.Loading))
            // Ollama writes one reply per call (/api/generate takes one prompt): a completion's prompts and every choice
            // (n) are calls of their own, each checked for its done line.
            .Use(inner => new FanOutChatClient(inner, FanOut.Prompts | FanOut.CompletionChoices | FanOut.ChatChoices))
            .Use(inner => new OllamaDoneCheckChatClient(inner, options.Id))
            .ConfigureOptions(chatOptions => ApplyModelOptions(chatOptions, options))
            .Use(inner => new OllamaRawPromptChatClient(inner, ollama))
            .Use(inner => new OllamaChatLogprobsChatClient(inner, ollama.IncomingJsonSerializerOptions))
            .Build();
        var embeddings = new EmbeddingGeneratorBuilder<string, Embedding<float>>(ollama)
            .Use(inner => new UpstreamErrorEmbeddingGenerator(inner, options.Id, MissingModel.Loading))
            .ConfigureOptions(embeddingOptions => embeddingOptions.ModelId = options.BackendModelName)
            .Build();

        return new ServedModel
        {
            Id = options.Id,
            Backend = Name,
            ChatClient = chat,
            EmbeddingGenerator = embeddings,
            Rerank = RerankSupport.None("Ollama serves no rerank endpoint"),
            OwnedBy = "ollama",
            ContextLength = options.Ollama.NumCtx ?? await LearnContextLengthAsync(ollama, options, cancellationToken),
            FirstTokenTimeout = options.FirstTokenTimeout,
            CheckReadyAsync = probeCancellation => UpstreamReadiness.ProbeAsync(
                $"Ollama at {options.Endpoint}", probe => CheckPulledAsync(ollama, options, probe), probeCancellation),
        };
    }

    private static void ApplyModelOptions(ChatOptions chatOptions, ModelOptions options)
    {
        // The request names the model as clients know it; Ollama knows it by its own name.
        chatOptions.ModelId = options.BackendModelName;
        if (options.Ollama.NumCtx is { } numCtx)
        {
            (chatOptions.AdditionalProperties ??= []).TryAdd(OllamaOption.NumCtx.Name, numCtx);
        }
        if (options.Ollama.KeepAlive is { } keepAlive)
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

    private static async Task<HealthCheckResult> CheckPulledAsync(OllamaServerClient ollama, ModelOptions options, CancellationToken cancellationToken)
    {
        var name = options.BackendModelName;
        try
        {
            await ollama.ShowModelAsync(new ShowModelRequest { Model = name }, cancellationToken);
            return HealthCheckResult.Healthy($"model {name} is pulled at {options.Endpoint}");
        }
        catch (UpstreamHttpException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return HealthCheckResult.Unhealthy($"model {name} is not pulled yet at {options.Endpoint} (ollama pull {name})");
        }
    }

    /// <summary>
    /// The context length Ollama gives the model when no <c>NumCtx</c> is configured: the Modelfile's num_ctx, asked
    /// once when the model is brought up. Unknown (null, and said in the log) when Ollama cannot tell then.
    /// </summary>
    private async Task<int?> LearnContextLengthAsync(OllamaServerClient ollama, ModelOptions options, CancellationToken cancellationToken)
    {
        var name = options.BackendModelName;
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(UpstreamReadiness.ProbeTimeout);
        try
        {
            var shown = await ollama.ShowModelAsync(new ShowModelRequest { Model = name }, bounded.Token);
            return NumCtxOf(shown.Parameters);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is UpstreamHttpException or HttpRequestException or OperationCanceledException)
        {
            logger.LogInformation("Model {Model}: Ollama at {Endpoint} could not tell its context length at start ({Reason}); /v1/models reports none until the API restarts.",
                options.Id, options.Endpoint, ex.Message);
            return null;
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
