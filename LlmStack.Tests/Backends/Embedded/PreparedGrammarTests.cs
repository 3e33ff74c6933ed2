using System.Text.Json;
using LlmStack.Api.Backends;
using LlmStack.Api.Backends.Embedded;
using LlmStack.Api.Configuration;
using LlmStack.Tests.Fixtures;
using Microsoft.Extensions.AI;

namespace LlmStack.Tests.Backends.Embedded;

/// <summary>
/// The grammar parsed before admission (<see cref="EmbeddedChatClient.Prepare"/>) is the one the batch loop samples
/// with: the loop parses no grammar of its own for a prepared request, and a grammar prepared for another model is not
/// used.
/// </summary>
public sealed class PreparedGrammarTests(GeneratedModels models)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Reply_follows_the_grammar_prepared_before_admission()
    {
        using var host = Load();
        var client = new EmbeddedChatClient(host);

        using var prepared = client.Prepare(Options("prepared"), Cancel);
        // Changed after preparation: were the grammar converted again at sampling, the reply would be "other".
        prepared.Options.ResponseFormat = Format("other");
        var response = await client.GetResponseAsync("Say it.", prepared.Options, Cancel).WaitAsync(Timeout, Cancel);

        Assert.Equal("prepared", Decoded(response.Text));
    }

    [Fact]
    public async Task Grammar_prepared_for_another_model_is_not_used()
    {
        using var first = Load();
        using var second = Load();

        using var prepared = new EmbeddedChatClient(first).Prepare(Options("first"), Cancel);
        prepared.Options.ResponseFormat = Format("second");
        var response = await new EmbeddedChatClient(second).GetResponseAsync("Say it.", prepared.Options, Cancel).WaitAsync(Timeout, Cancel);

        Assert.Equal("second", Decoded(response.Text));
    }

    private static ChatOptions Options(string word) => new()
    {
        ResponseFormat = Format(word),
        AdditionalProperties = new() { [LlmStackChatOptions.StrictKey] = true },
        Seed = 1,
        MaxOutputTokens = 50,
    };

    private static ChatResponseFormatJson Format(string word) =>
        ChatResponseFormat.ForJsonSchema(JsonDocument.Parse($$"""{"const":"{{word}}"}""").RootElement, "word");

    private static string? Decoded(string text)
    {
        using var json = JsonDocument.Parse(text);
        return json.RootElement.GetString();
    }

    private EmbeddedModelHost Load() => EmbeddedModelHost.Load(new ModelOptions
    {
        Id = "random",
        Backend = EmbeddedBackend.BackendName,
        Path = models.RandomAscii,
        Embedded = new() { ContextSize = 1024 },
    });
}
