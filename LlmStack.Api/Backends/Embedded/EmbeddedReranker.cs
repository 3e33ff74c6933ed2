using System.Text;
using LLama.Native;
using LlmStack.Api.Errors;
using LlmStack.Gguf;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// Reranking with a reranker GGUF (bge-reranker, jina-reranker, Qwen3-Reranker, ...): llama.cpp's rank pooling passes
/// each query-document pair's pooled hidden state through the model's classification head, in a context of its own (the
/// model's admission gate bounds how many run at once). A pair is written as llama-server writes it: the GGUF's
/// <c>tokenizer.chat_template.rerank</c> with the query and document in place, or else
/// <c>[BOS] query [EOS] [SEP] document [EOS]</c> with the tokens the vocabulary adds.
/// </summary>
internal sealed class EmbeddedReranker : IModelReranker
{
    // llama.cpp's LLAMA_POOLING_TYPE_RANK, as a GGUF's <arch>.pooling_type holds it.
    private const long RankPooling = 4;
    private const string RerankTemplateKey = "tokenizer.chat_template.rerank";

    private readonly EmbeddedModelHost _host;
    private readonly LLama.Common.ModelParams _parameters;

    private EmbeddedReranker(EmbeddedModelHost host)
    {
        _host = host;
        // A pair is pooled whole, so a batch spans the whole context.
        _parameters = host.Parameters with
        {
            Embeddings = true,
            PoolingType = LLamaPoolingType.Rank,
            BatchSize = (uint)host.ContextSize,
            UBatchSize = (uint)host.ContextSize,
        };
    }

    /// <summary>
    /// The model's reranker when its GGUF is one - rank pooling declared and a classification head present (llama.cpp
    /// aborts the process when asked to rank without one) - else why not.
    /// </summary>
    public static RerankSupport For(EmbeddedModelHost host)
    {
        GgufMetadata header;
        try
        {
            header = GgufMetadata.Read(host.Path);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return RerankSupport.None($"its GGUF header cannot be read to tell ({ex.Message})");
        }
        if (header.ArchitectureInteger("pooling_type") != RankPooling)
        {
            return RerankSupport.None(
                $"it is not a reranker: its GGUF ({header.Architecture}) declares no rank pooling ({header.Architecture}.pooling_type rank), as reranker GGUFs such as bge-reranker or Qwen3-Reranker do");
        }
        var hasHead = header.TensorNames.Contains("cls.output.weight")
            || (header.TensorNames.Contains("cls.weight") && header.TensorNames.Contains("cls.bias"));
        return hasHead
            ? RerankSupport.By(new EmbeddedReranker(host))
            : RerankSupport.None("its GGUF declares rank pooling but has no classification head (cls.output.weight, or cls.weight and cls.bias)");
    }

    public async Task<RerankScores> RerankAsync(string query, IReadOnlyList<string> documents, CancellationToken cancellationToken)
    {
        using var context = _host.Weights.CreateContext(_parameters);
        using var abort = DecodeAbort.Register(context.NativeHandle, cancellationToken);
        var scores = new double[documents.Count];
        var totalTokens = 0;
        var batch = new LLamaBatch();
        for (var i = 0; i < documents.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var tokens = Pair(query, documents[i]);
            if (tokens.Count > context.ContextSize)
            {
                throw new ApiErrorException(StatusCodes.Status400BadRequest, "invalid_request_error",
                    $"The query and document {i} are {tokens.Count} tokens together; model '{_host.Id}' reads at most {context.ContextSize}.",
                    "context_length_exceeded", $"documents[{i}]");
            }
            context.NativeHandle.MemoryClear();
            batch.Clear();
            for (var position = 0; position < tokens.Count; position++)
            {
                batch.Add(tokens[position], position, LLamaSeqId.Zero, logits: position == tokens.Count - 1);
            }
            var result = await context.DecodeAsync(batch, cancellationToken).ConfigureAwait(false);
            if (result == DecodeResult.ComputeAborted)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            if (result != DecodeResult.Ok)
            {
                throw new InvalidOperationException($"llama.cpp failed to rerank with model '{_host.Id}': {result}.");
            }
            scores[i] = context.NativeHandle.GetEmbeddingsSeq(LLamaSeqId.Zero)[0];
            totalTokens += tokens.Count;
        }
        return new RerankScores(scores, totalTokens);
    }

    // The query and document are tokenized as text (a document cannot write a control token); only the template's own
    // text is tokenized with its special tokens.
    private List<LLamaToken> Pair(string query, string document)
    {
        var weights = _host.Weights;
        var vocabulary = weights.Vocab;
        var tokens = new List<LLamaToken>();
        void Text(string text, bool special)
        {
            if (text.Length > 0)
            {
                tokens.AddRange(weights.Tokenize(text, false, special, Encoding.UTF8));
            }
        }
        if (weights.Metadata.GetValueOrDefault(RerankTemplateKey) is { Length: > 0 } template)
        {
            var at = 0;
            while (NextPlaceholder(template, at) is var (index, name, value) && index >= 0)
            {
                Text(template[at..index], special: true);
                Text(value(query, document), special: false);
                at = index + name.Length;
            }
            Text(template[at..], special: true);
            return tokens;
        }
        var addSeparator = string.Equals(weights.Metadata.GetValueOrDefault("tokenizer.ggml.add_sep_token"), "true", StringComparison.OrdinalIgnoreCase);
        var end = vocabulary.EOS ?? vocabulary.SEP;
        if (vocabulary.ShouldAddBOS && vocabulary.BOS is { } bos)
        {
            tokens.Add(bos);
        }
        Text(query, special: false);
        if (vocabulary.ShouldAddEOS && end is { } afterQuery)
        {
            tokens.Add(afterQuery);
        }
        if (addSeparator && vocabulary.SEP is { } separator)
        {
            tokens.Add(separator);
        }
        Text(document, special: false);
        if (vocabulary.ShouldAddEOS && end is { } afterDocument)
        {
            tokens.Add(afterDocument);
        }
        return tokens;
    }

    private static (int Index, string Name, Func<string, string, string> Value) NextPlaceholder(string template, int from)
    {
        var query = template.IndexOf("{query}", from, StringComparison.Ordinal);
        var document = template.IndexOf("{document}", from, StringComparison.Ordinal);
        return (query, document) switch
        {
            (< 0, < 0) => (-1, "", (_, _) => ""),
            (>= 0, var d) when d < 0 || query < d => (query, "{query}", (q, _) => q),
            _ => (document, "{document}", (_, d) => d),
        };
    }
}
