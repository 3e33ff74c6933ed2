using System.Text;
using LLama.Native;
using LlmStack.Api.Errors;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// The GGUF's own vocabulary: text tokenized as llama.cpp does it, and a conversation tokenized by
/// <see cref="ChatPrompt.Tokenize"/> - the very tokens a chat completion's prompt is made of, so the count is its
/// <c>usage.prompt_tokens</c>.
/// </summary>
internal sealed class EmbeddedTokenizer(EmbeddedModelHost host) : IModelTokenizer
{
    public Task<TokenizedText> TokenizeAsync(TokenizeInput input, CancellationToken cancellationToken)
    {
        var weights = host.Weights;
        var tokens = input.Messages is { } messages
            ? ChatPrompt.Tokenize(weights, host.CreateTemplate, messages, input.Options, input.AddGenerationPrompt).Tokens
            : weights.Tokenize(input.Text ?? "", input.AddSpecial && weights.Vocab.ShouldAddBOS, input.ParseSpecial, Encoding.UTF8);
        var pieces = input.WithPieces ? tokens.Select(token => Piece(weights.Vocab, token)).ToList() : null;
        return Task.FromResult(new TokenizedText([.. tokens.Select(token => (int)token)], pieces, host.ContextSize));
    }

    public Task<string> DetokenizeAsync(IReadOnlyList<int> tokens, CancellationToken cancellationToken)
    {
        var vocabulary = host.Weights.Vocab;
        var bytes = new List<byte>();
        for (var i = 0; i < tokens.Count; i++)
        {
            if ((uint)tokens[i] >= (uint)vocabulary.Count)
            {
                throw ApiErrorException.InvalidRequest(
                    $"Token {tokens[i]} is not in the vocabulary of model '{host.Id}' (ids 0 to {vocabulary.Count - 1}) - 'tokens[{i}]'.", $"tokens[{i}]");
            }
            bytes.AddRange(Piece(vocabulary, (LLamaToken)tokens[i]));
        }
        return Task.FromResult(Encoding.UTF8.GetString([.. bytes]));
    }

    // Special tokens written out, as vLLM's and llama-server's tokenizers show them.
    private static byte[] Piece(SafeLlamaModelHandle.Vocabulary vocabulary, LLamaToken token)
    {
        Span<byte> piece = stackalloc byte[128];
        var length = (int)NativeApi.llama_token_to_piece(vocabulary, token, piece, 0, true);
        if (length >= 0)
        {
            return piece[..length].ToArray();
        }
        var large = new byte[-length];
        length = (int)NativeApi.llama_token_to_piece(vocabulary, token, large, 0, true);
        return large[..Math.Max(0, length)];
    }
}
