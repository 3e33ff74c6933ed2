using System.Runtime.CompilerServices;
using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LlmStack.Tests.Fixtures;

/// <summary>
/// A backend whose models are chat clients the test scripts: exact updates, failures mid-stream, tool calls.
/// For what only a scripted client can show (the wire format of every update kind, errors after the first
/// chunk, how a request maps onto <see cref="ChatOptions"/>); real inference is tested with generated models.
/// </summary>
internal sealed class InMemoryBackend(IReadOnlyDictionary<string, InMemoryChatClient> clients) : IModelBackend
{
    public const string BackendName = "in-memory";

    public string Name => BackendName;

    public IEnumerable<string> Validate(ModelOptions options, string keyPrefix) =>
        clients.ContainsKey(options.Id) ? [] : [$"{keyPrefix}:Id '{options.Id}' has no in-memory client."];

    public Task<ServedModel> CreateAsync(ModelOptions options, CancellationToken cancellationToken) => Task.FromResult(new ServedModel
    {
        Id = options.Id,
        Backend = Name,
        ChatClient = clients[options.Id],
        EmbeddingGenerator = clients[options.Id].Embeddings,
        AcceptsImages = clients[options.Id].AcceptsImages,
        CheckReadyAsync = _ => Task.FromResult(HealthCheckResult.Healthy()),
    });

    /// <summary>An API serving each client under its id.</summary>
    public static ApiApplication Serve(params (string Id, InMemoryChatClient Client)[] models) =>
        Serve(new Dictionary<string, string?>(), models);

    /// <summary>An API with extra settings serving each client under its id.</summary>
    public static ApiApplication Serve(IReadOnlyDictionary<string, string?> settings, params (string Id, InMemoryChatClient Client)[] models) =>
        Serve(settings, configureServices: null, models);

    /// <summary>An API with extra settings and test services (e.g. a fake clock) serving each client under its id.</summary>
    public static ApiApplication Serve(
        IReadOnlyDictionary<string, string?> settings, Action<IServiceCollection>? configureServices, params (string Id, InMemoryChatClient Client)[] models)
    {
        var backend = new InMemoryBackend(models.ToDictionary(m => m.Id, m => m.Client));
        return new ApiApplication(
            models.Select(m => new ModelOptions { Id = m.Id, Backend = BackendName }),
            settings,
            services =>
            {
                services.AddSingleton<IModelBackend>(backend);
                configureServices?.Invoke(services);
            });
    }
}

/// <summary>A chat client that plays the updates its script yields, and remembers the last request it got.</summary>
public sealed class InMemoryChatClient(
    Func<IList<ChatMessage>, ChatOptions?, CancellationToken, IAsyncEnumerable<ChatResponseUpdate>> script) : IChatClient
{
    /// <summary>Streams <paramref name="pieces"/>, one update each, then throws <paramref name="failure"/>.</summary>
    public static InMemoryChatClient FailingAfter(IReadOnlyList<string> pieces, Exception failure) =>
        new((_, _, _) => FailAfter(pieces, failure));

    private static async IAsyncEnumerable<ChatResponseUpdate> FailAfter(IReadOnlyList<string> pieces, Exception failure)
    {
        foreach (var piece in pieces)
        {
            await Task.Yield();
            yield return new ChatResponseUpdate(ChatRole.Assistant, piece);
        }
        await Task.Yield();
        throw failure;
    }

    /// <summary>Replies with <paramref name="pieces"/>, one update each, then <paramref name="finishReason"/> and usage.</summary>
    public static InMemoryChatClient Replying(IReadOnlyList<string> pieces, ChatFinishReason? finishReason = null, UsageDetails? usage = null) =>
        new((_, _, _) => Play(pieces, finishReason ?? ChatFinishReason.Stop, usage ?? new UsageDetails
        {
            InputTokenCount = 7,
            OutputTokenCount = pieces.Count,
            TotalTokenCount = 7 + pieces.Count,
        }));

    public IList<ChatMessage>? LastMessages { get; private set; }

    public ChatOptions? LastOptions { get; private set; }

    public IEmbeddingGenerator<string, Embedding<float>>? Embeddings { get; set; }

    public bool AcceptsImages { get; set; }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        LastMessages = [.. messages];
        LastOptions = options;
        return script(LastMessages, options, cancellationToken);
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }

    private static async IAsyncEnumerable<ChatResponseUpdate> Play(
        IReadOnlyList<string> pieces, ChatFinishReason finishReason, UsageDetails usage, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var piece in pieces)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return new ChatResponseUpdate(ChatRole.Assistant, piece);
        }
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(usage)]) { FinishReason = finishReason };
    }
}
