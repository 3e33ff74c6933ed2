using System.Runtime.InteropServices;
using LLama.Native;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>
/// A GBNF grammar that llama.cpp has parsed: its grammar sampler, made on the request thread and handed to the
/// request's sampling, so the batch loop never parses a grammar. LLamaSharp 0.30 adds the sampler it gets from
/// <c>llama_sampler_init_grammar</c> to its chain without looking, and a grammar llama.cpp refuses gives null, on
/// which the process dies at the first token; here a refusal is an exception on the request thread instead.
/// </summary>
/// <remarks>The import binds to the libllama that LLamaSharp already loaded (the loader matches its soname), as <see cref="DecodeAbort"/> does.</remarks>
internal sealed partial class ParsedGrammar : IDisposable
{
    private ParsedGrammar(SafeLLamaSamplerChainHandle sampler, string text)
    {
        Sampler = sampler;
        Text = text;
    }

    /// <summary>A sampler chain holding only the grammar: apply it to candidates, accept the token chosen.</summary>
    public SafeLLamaSamplerChainHandle Sampler { get; }

    /// <summary>The GBNF text.</summary>
    public string Text { get; }

    /// <summary>The grammar of <paramref name="gbnf"/> (starting at <paramref name="root"/>) for <paramref name="model"/>'s vocabulary.</summary>
    /// <exception cref="UnsupportedSchemaException">llama.cpp refused the grammar.</exception>
    public static ParsedGrammar Parse(SafeLlamaModelHandle model, string gbnf, string root = JsonSchemaGrammar.RootRule)
    {
        var vocabulary = llama_model_get_vocab(model.DangerousGetHandle());
        var grammar = llama_sampler_init_grammar(vocabulary, gbnf, root);
        if (grammar == IntPtr.Zero)
        {
            // The converter's checks should make this unreachable: llama.cpp printed its reason to the server's stderr.
            throw new UnsupportedSchemaException(null, "#", "llama.cpp refused the grammar it became (its reason is in the server's log)",
                UnsupportedSchemaException.NeverEndsCode);
        }
        var chain = SafeLLamaSamplerChainHandle.Create(LLamaSamplerChainParams.Default());
        // The chain owns the sampler from here on and frees it with itself.
        llama_sampler_chain_add(chain.DangerousGetHandle(), grammar);
        return new ParsedGrammar(chain, gbnf);
    }

    public void Dispose() => Sampler.Dispose();

    [LibraryImport("llama")]
    private static partial IntPtr llama_model_get_vocab(IntPtr model);

    [LibraryImport("llama", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr llama_sampler_init_grammar(IntPtr vocabulary, string grammar, string root);

    [LibraryImport("llama")]
    private static partial void llama_sampler_chain_add(IntPtr chain, IntPtr sampler);
}
