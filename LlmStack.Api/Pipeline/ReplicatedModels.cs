using LlmStack.Api.Backends;
using LlmStack.Api.Configuration;
using LlmStack.Api.Telemetry;

namespace LlmStack.Api.Pipeline;

/// <summary>
/// Makes one served model of a model's replicas (<c>LlmStack:Models:&lt;n&gt;:Replicas</c>), each already brought up by its
/// backend: one id, one entry in <c>/v1/models</c>, its clients routed over the replicas by a <see cref="ReplicaSet"/>.
/// </summary>
internal sealed class ReplicatedModels(LlmStackMetrics metrics, TimeProvider time, ILoggerFactory loggerFactory)
{
    public ServedModel Serve(ModelOptions options, IReadOnlyList<ServedModel> served)
    {
        var addresses = AddressesOf(options);
        var replicas = served.Select((model, m) =>
        {
            var tags = new System.Diagnostics.TagList { { LlmStackMetrics.RequestModel, options.Id }, { LlmStackMetrics.ServerAddress, addresses[m] } };
            return new Replica(m, addresses[m], model, options.Replicas[m], tags);
        }).ToList();
        var set = new ReplicaSet(options.Id, replicas, options.Routing, metrics, time, loggerFactory.CreateLogger<ReplicaSet>());
        return new ServedModel
        {
            Id = options.Id,
            Backend = string.Join('+', served.Select(m => m.Backend).Distinct(StringComparer.Ordinal)),
            ChatClient = new RoutedChatClient(set),
            EmbeddingGenerator = served.All(m => m.EmbeddingGenerator is not null) ? new RoutedEmbeddingGenerator(set) : null,
            // The replicas serve one model, so one vocabulary: its first replica tokenizes, and reranks (not routed).
            Tokenizer = served[0].Tokenizer,
            Rerank = served.FirstOrDefault(m => m.Rerank.Reranker is null)?.Rerank ?? served[0].Rerank,
            CheckReadyAsync = set.CheckReadyAsync,
            OwnedBy = string.Join(',', served.Select(m => m.OwnedBy).Distinct(StringComparer.Ordinal)),
            AcceptsImages = served.All(m => m.AcceptsImages),
            // The smallest context of the replicas: a request must fit whichever one serves it.
            ContextLengthWhenLoaded = () => SmallestContext(served),
            Parallelism = replicas.Sum(r => r.Limit),
            FirstTokenTimeout = options.FirstTokenTimeout,
            Replicas = served,
            Owned = set,
        };
    }

    // Asked per request (a prompt must fit): a loop, not LINQ. Replicas that do not know theirs yet are left out.
    private static int? SmallestContext(IReadOnlyList<ServedModel> served)
    {
        int? smallest = null;
        for (var i = 0; i < served.Count; i++)
        {
            if (served[i].ContextLength is { } context && (smallest is null || context < smallest))
            {
                smallest = context;
            }
        }
        return smallest;
    }

    /// <summary><c>server.address</c> of each replica: host:port of its server, or its GGUF file's name; made unique by its index.</summary>
    private static string[] AddressesOf(ModelOptions options)
    {
        var addresses = options.Replicas.Select(r =>
            Uri.TryCreate(r.Endpoint, UriKind.Absolute, out var endpoint) ? endpoint.Authority
            : Path.GetFileName(r.Path) ?? "").ToArray();
        var duplicated = addresses.GroupBy(a => a, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        return [.. addresses.Select((address, m) => duplicated.Contains(address) ? $"{address}#{m}" : address)];
    }
}
