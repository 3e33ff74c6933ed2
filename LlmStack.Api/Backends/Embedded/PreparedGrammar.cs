using Microsoft.Extensions.AI;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// A request's grammar parsed for one model before the request was admitted (<see cref="EmbeddedChatClient.Prepare"/>),
/// carried in its options to that model's sampling, which takes it; freed with the call when nothing took it (the call
/// was refused at admission, or fell back to another model).
/// </summary>
internal sealed class PreparedGrammar(EmbeddedModelHost host, ParsedGrammar grammar) : IDisposable
{
    /// <summary>Where the grammar rides in <see cref="ChatOptions.AdditionalProperties"/>.</summary>
    public const string OptionsKey = "llmstack.prepared_grammar";

    private ParsedGrammar? _grammar = grammar;

    /// <summary>Options carrying <paramref name="prepared"/> (a copy: the caller's options stay as they were).</summary>
    public static ChatOptions Carry(ChatOptions options, PreparedGrammar prepared)
    {
        var carried = options.Clone();
        (carried.AdditionalProperties ??= [])[OptionsKey] = prepared;
        return carried;
    }

    /// <summary>
    /// The grammar prepared for <paramref name="host"/> that <paramref name="options"/> carry, or null: none was prepared,
    /// it was for another model, or it was taken already (a grammar holds one reply's state: a second use parses its own).
    /// </summary>
    public static ParsedGrammar? TakeFrom(ChatOptions? options, EmbeddedModelHost host) =>
        options?.AdditionalProperties?.TryGetValue(OptionsKey, out var value) == true && value is PreparedGrammar prepared && ReferenceEquals(host, prepared.Host)
            ? Interlocked.Exchange(ref prepared._grammar, null)
            : null;

    private EmbeddedModelHost Host { get; } = host;

    public void Dispose() => Interlocked.Exchange(ref _grammar, null)?.Dispose();
}
