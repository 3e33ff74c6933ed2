using System.ClientModel;
using System.ClientModel.Primitives;
using LlmStack.Api.Backends.Upstream;
using LlmStack.Api.Configuration;
using LlmStack.Api.Pipeline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenAI;
using OpenAI.Chat;

namespace LlmStack.Api.Backends.OpenAI;

/// <summary>
/// <c>openai</c>: a model behind any OpenAI-compatible server - vLLM, llama.cpp's llama-server, another
/// LlmStack, or OpenAI itself - through the OpenAI SDK and Microsoft.Extensions.AI.OpenAI. The endpoint is
/// the server's base URL including its <c>/v1</c>. Ready once <c>GET {endpoint}/models</c> answers and,
/// when the server lists its models, lists this one.
/// </summary>
internal sealed class OpenAIBackend(IHttpClientFactory httpClients) : IModelBackend
{
    public const string BackendName = "openai";

    // vLLM and llama-server accept any key unless started with one; the SDK insists on having one to send.
    private const string NoApiKey = "no-key";

    public string Name => BackendName;

    public IEnumerable<string> Validate(ModelOptions options, string keyPrefix) =>
        UpstreamModelValidation.Validate(options, keyPrefix, "http://localhost:8000/v1");

    public Task<ServedModel> CreateAsync(ModelOptions options, CancellationToken cancellationToken)
    {
        var http = httpClients.CreateClient(UpstreamHttpClients.NameOf(options));
        var credential = new ApiKeyCredential(string.IsNullOrWhiteSpace(options.ApiKey) ? NoApiKey : options.ApiKey);
        var clientOptions = new OpenAIClientOptions
        {
            Endpoint = new Uri(options.Endpoint!.TrimEnd('/')),
            Transport = new HttpClientPipelineTransport(http),
            // Resilience is ours: a completion is never sent twice.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            // The SDK applies this to every read of a stream. Our first-token timeout is the one that should
            // fire first, with its 504; past it, the same bound catches a server that stalls mid-stream.
            NetworkTimeout = options.FirstTokenTimeout + TimeSpan.FromSeconds(30),
        };
        var client = new OpenAIClient(credential, clientOptions);

        var chat = new ChatClientBuilder(client.GetChatClient(options.BackendModelName).AsIChatClient())
            .Use(inner => new UpstreamErrorChatClient(inner, options.Id))
            // One prompt and one choice per upstream call: the OpenAI SDK reads only a reply's first choice, and
            // llama-server refuses n other than 1 (vLLM's prefix cache serves the repeated prompt).
            .Use(inner => new FanOutChatClient(inner, FanOut.Prompts | FanOut.CompletionChoices | FanOut.ChatChoices))
            .Use(inner => new UpstreamReasoningChatClient(inner))
            .Use(inner => new UpstreamToolArgumentsChatClient(inner))
            .ConfigureOptions(chatOptions =>
            {
                chatOptions.ModelId = options.BackendModelName;
                PassSchemaThrough(chatOptions);
            })
            // Below the options above: it adds to the raw options they may set.
            .Use(inner => new UpstreamLogprobsChatClient(inner))
            .Use(inner => new UpstreamCompletionsChatClient(inner, http, clientOptions.Endpoint, options.ApiKey, options.BackendModelName))
            .Build();
        var upstream = new UpstreamEndpoints(http, options);
        var embeddings = new EmbeddingGeneratorBuilder<string, Embedding<float>>(
                client.GetEmbeddingClient(options.BackendModelName).AsIEmbeddingGenerator())
            .Use(inner => new UpstreamErrorEmbeddingGenerator(inner, options.Id))
            .ConfigureOptions(embeddingOptions => embeddingOptions.ModelId = options.BackendModelName)
            .Build();

        return Task.FromResult(new ServedModel
        {
            Id = options.Id,
            Backend = Name,
            ChatClient = chat,
            EmbeddingGenerator = embeddings,
            Tokenizer = new UpstreamTokenizer(upstream),
            Rerank = RerankSupport.By(new UpstreamReranker(upstream)),
            OwnedBy = new Uri(options.Endpoint!).Host,
            FirstTokenTimeout = options.FirstTokenTimeout,
            CheckReadyAsync = probeCancellation => UpstreamReadiness.ProbeAsync(
                options.Endpoint!, probe => CheckListedAsync(client, options, probe), probeCancellation),
        });
    }

    private static async Task<HealthCheckResult> CheckListedAsync(OpenAIClient client, ModelOptions options, CancellationToken cancellationToken)
    {
        var name = options.BackendModelName;
        var listed = (await client.GetOpenAIModelClient().GetModelsAsync(cancellationToken)).Value.Select(m => m.Id).ToList();
        return listed.Count == 0 || listed.Contains(name, StringComparer.Ordinal)
            ? HealthCheckResult.Healthy($"{options.Endpoint} answers and serves {name}")
            : HealthCheckResult.Unhealthy(
                $"{options.Endpoint} answers but does not serve model {name} (it serves: {string.Join(", ", listed.Take(10))})");
    }

    // Microsoft.Extensions.AI rewrites a JSON schema for OpenAI's strict rules and leaves `strict` out; an
    // OpenAI-compatible upstream is to get the client's response_format as sent: its schema, name and strict flag.
    private static void PassSchemaThrough(ChatOptions chatOptions)
    {
        if (chatOptions.ResponseFormat is ChatResponseFormatJson { Schema: { } schema } format && chatOptions.RawRepresentationFactory is null)
        {
            bool? strict = LlmStackChatOptions.IsStrict(chatOptions.AdditionalProperties) ? true : null;
            chatOptions.RawRepresentationFactory = _ => new ChatCompletionOptions
            {
                ResponseFormat = global::OpenAI.Chat.ChatResponseFormat.CreateJsonSchemaFormat(
                    format.SchemaName ?? "json_schema", BinaryData.FromString(schema.GetRawText()), format.SchemaDescription, strict),
            };
        }
    }
}
