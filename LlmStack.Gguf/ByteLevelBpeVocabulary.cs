using System.Text;

namespace LlmStack.Gguf;

/// <summary>
/// A byte-level BPE ("gpt2") vocabulary in Qwen2.5's style: the 256 byte tokens in GPT-2's
/// <c>bytes_to_unicode</c> order, a few merges, the builder's own extra tokens, then the ChatML control tokens
/// (<c>&lt;|endoftext|&gt;</c>, <c>&lt;|im_start|&gt;</c>, <c>&lt;|im_end|&gt;</c>) and optional padding up to
/// a fixed size (Qwen2.5's real vocabulary sizes).
/// </summary>
public sealed class ByteLevelBpeVocabulary
{
    public const string EndOfText = "<|endoftext|>";
    public const string ImStart = "<|im_start|>";
    public const string ImEnd = "<|im_end|>";

    // Llama 3's markers, in a vocabulary made for its template (see <see cref="Llama3Template"/>).
    public const string BeginOfText = "<|begin_of_text|>";
    public const string StartHeader = "<|start_header_id|>";
    public const string EndHeader = "<|end_header_id|>";
    public const string EndOfTurn = "<|eot_id|>";

    /// <summary>
    /// Llama 3's chat template, which llama.cpp recognises by its <c>&lt;|start_header_id|&gt;</c> markers and applies
    /// natively: <c>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;</c>, the tokenizer adding
    /// <c>&lt;|begin_of_text|&gt;</c>. A vocabulary created for it also holds Llama 3's control tokens and ends turns with
    /// <c>&lt;|eot_id|&gt;</c>.
    /// </summary>
    public const string Llama3Template =
        "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

    /// <summary>
    /// ChatML, which llama.cpp recognises by its <c>&lt;|im_start|&gt;</c> markers and applies natively
    /// (it does not run arbitrary Jinja).
    /// </summary>
    public const string ChatMLTemplate =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    // Frequent English pairs, so prompts tokenize into fewer tokens than bytes, as real vocabularies do.
    private static readonly (string Left, string Right)[] BaseMerges =
    [
        ("Ġ", "t"), ("Ġ", "a"), ("h", "e"), ("i", "n"), ("r", "e"), ("o", "n"), ("Ġt", "he"), ("e", "r"),
        ("Ġ", "s"), ("a", "t"), ("o", "r"), ("e", "n"), ("Ġ", "w"), ("Ġ", "c"), ("i", "s"), ("e", "s"),
    ];

    // GPT-2's table: printable bytes map to themselves, the others to code points from 256 upwards, so that
    // every token is a printable string. Byte tokens are listed in GPT-2's order (printable bytes first).
    private static readonly (byte[] Order, string[] ByByte) ByteTable = BuildByteTable();
    private static readonly string[] ByteToUnicode = ByteTable.ByByte;

    private readonly List<string> _tokens = [];
    private readonly List<int> _types = [];
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);

    private ByteLevelBpeVocabulary()
    {
    }

    /// <summary>Token texts in GGUF form (bytes mapped through <c>bytes_to_unicode</c>).</summary>
    public IReadOnlyList<string> Tokens => _tokens;

    /// <summary>llama.cpp token types: 1 normal, 3 control.</summary>
    public IReadOnlyList<int> TokenTypes => _types;

    /// <summary>Merges as "left right" in rank order.</summary>
    public IReadOnlyList<string> Merges { get; private init; } = [];

    public int Count => _tokens.Count;

    public int EndOfTextId => _ids[EndOfText];

    public int ImStartId => _ids[ImStart];

    public int ImEndId => _ids[ImEnd];

    /// <summary>True for a vocabulary made for <see cref="Llama3Template"/>.</summary>
    public bool IsLlama3 { get; private init; }

    /// <summary>The token that ends a turn (and generation): <c>&lt;|eot_id|&gt;</c> for Llama 3, <c>&lt;|im_end|&gt;</c> otherwise.</summary>
    public int EndOfTurnId => _ids[IsLlama3 ? EndOfTurn : ImEnd];

    /// <summary>Whether <paramref name="chatTemplate"/> is Llama 3's style (its markers need a vocabulary of their own).</summary>
    public static bool UsesLlama3Markers(string? chatTemplate) => chatTemplate?.Contains(StartHeader, StringComparison.Ordinal) == true;

    /// <summary>
    /// Builds the vocabulary. <paramref name="tokens"/> (in byte-level form, see <see cref="Encode"/>) become
    /// tokens of their own unless the vocabulary already has them; <paramref name="size"/> adds filler words
    /// up to that count.
    /// </summary>
    /// <param name="llama3">Add Llama 3's control tokens, and end turns with <c>&lt;|eot_id|&gt;</c>.</param>
    /// <param name="words">
    /// Words (plain text without spaces, e.g. <c>Paris</c>) that text tokenizes into one token each, alone and after a
    /// space (<see cref="WordToken"/>): the vocabulary gets each word's prefixes and the merges that build it, ahead of
    /// every other merge.
    /// </param>
    public static ByteLevelBpeVocabulary Create(IEnumerable<string>? tokens = null, int? size = null, bool llama3 = false, IEnumerable<string>? words = null)
    {
        var wordMerges = new List<(string Left, string Right)>();
        foreach (var word in words ?? [])
        {
            if (word.Length == 0 || word.Any(char.IsWhiteSpace))
            {
                throw new ArgumentException($"'{word}' is not a word: words are non-empty and have no spaces.", nameof(words));
            }
            var symbols = Encode(word).EnumerateRunes().Select(r => r.ToString()).ToList();
            var prefix = symbols[0];
            foreach (var symbol in symbols.Skip(1))
            {
                wordMerges.Add((prefix, symbol));
                prefix += symbol;
            }
            wordMerges.Add((ByteToUnicode[' '], prefix));
        }
        var merges = wordMerges.Concat(BaseMerges).Distinct().ToList();
        var vocabulary = new ByteLevelBpeVocabulary { Merges = merges.Select(m => $"{m.Left} {m.Right}").ToArray(), IsLlama3 = llama3 };
        foreach (var b in ByteTable.Order)
        {
            vocabulary.AddToken(ByteToUnicode[b], TokenType.Normal);
        }
        foreach (var (left, right) in merges)
        {
            vocabulary.AddToken(left + right, TokenType.Normal);
        }
        foreach (var word in words ?? [])
        {
            foreach (var form in (string[])[word, " " + word])
            {
                if (Bpe(Encode(form), merges) is not [_])
                {
                    throw new ArgumentException($"'{form}' would not tokenize into one token: another word's merges split it first.", nameof(words));
                }
            }
        }
        foreach (var token in tokens ?? [])
        {
            vocabulary.AddToken(token, TokenType.Normal);
        }
        vocabulary.AddToken(EndOfText, TokenType.Control);
        vocabulary.AddToken(ImStart, TokenType.Control);
        vocabulary.AddToken(ImEnd, TokenType.Control);
        if (llama3)
        {
            foreach (var marker in (string[])[BeginOfText, StartHeader, EndHeader, EndOfTurn])
            {
                vocabulary.AddToken(marker, TokenType.Control);
            }
        }

        if (size is { } target)
        {
            if (target < vocabulary.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(size), $"The vocabulary needs at least {vocabulary.Count} tokens; {target} were asked for.");
            }
            // Filler words (" ab", " ac", ...) rather than unused "[PADn]" tokens: a random-weight model samples
            // them, and they must print as text for streaming to look like a real model's.
            foreach (var word in FillerWords())
            {
                if (vocabulary.Count == target)
                {
                    break;
                }
                vocabulary.AddToken(ByteToUnicode[' '] + word, TokenType.Normal);
            }
        }
        return vocabulary;
    }

    // "ab", "ac", ..., "zz", "aaa", ...: distinct lowercase words, two letters and longer.
    private static IEnumerable<string> FillerWords()
    {
        for (var length = 2; ; length++)
        {
            var letters = new char[length];
            var total = (long)Math.Pow(26, length);
            for (long n = 0; n < total; n++)
            {
                var rest = n;
                for (var i = length - 1; i >= 0; i--)
                {
                    letters[i] = (char)('a' + rest % 26);
                    rest /= 26;
                }
                yield return new string(letters);
            }
        }
    }

    /// <summary>The token of a word given to <see cref="Create"/>, after a space (<paramref name="spaced"/>) or not.</summary>
    public static string WordToken(string word, bool spaced) => Encode(spaced ? " " + word : word);

    // Byte-level BPE as llama.cpp applies it within one pre-tokenized chunk: merge the adjacent pair of lowest rank until none is left.
    private static List<string> Bpe(string chunk, List<(string Left, string Right)> merges)
    {
        var rank = new Dictionary<(string, string), int>();
        for (var i = 0; i < merges.Count; i++)
        {
            rank.TryAdd(merges[i], i);
        }
        var symbols = chunk.EnumerateRunes().Select(r => r.ToString()).ToList();
        while (true)
        {
            var best = -1;
            for (var i = 0; i + 1 < symbols.Count; i++)
            {
                if (rank.TryGetValue((symbols[i], symbols[i + 1]), out var r) && (best < 0 || r < rank[(symbols[best], symbols[best + 1])]))
                {
                    best = i;
                }
            }
            if (best < 0)
            {
                return symbols;
            }
            symbols[best] += symbols[best + 1];
            symbols.RemoveAt(best + 1);
        }
    }

    /// <summary>The id of <paramref name="token"/> (in byte-level form).</summary>
    public int IdOf(string token) =>
        _ids.TryGetValue(token, out var id) ? id : throw new KeyNotFoundException($"No token '{token}' in the vocabulary.");

    /// <summary>The byte-level token form of the single byte <paramref name="value"/>.</summary>
    public static string ByteToken(byte value) => ByteToUnicode[value];

    /// <summary>Maps UTF-8 text to its byte-level token form (e.g. a space becomes <c>Ġ</c>).</summary>
    public static string Encode(string text)
    {
        var builder = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            builder.Append(ByteToUnicode[b]);
        }
        return builder.ToString();
    }

    /// <summary>The bytes a token in byte-level form stands for (the inverse of <see cref="Encode"/>).</summary>
    public static byte[] Decode(string token)
    {
        var bytes = new List<byte>();
        foreach (var rune in token.EnumerateRunes())
        {
            var index = Array.IndexOf(ByteToUnicode, rune.ToString());
            if (index < 0)
            {
                throw new ArgumentException($"'{rune}' is not a byte-level symbol.", nameof(token));
            }
            bytes.Add((byte)index);
        }
        return [.. bytes];
    }

    /// <summary>
    /// ChatML that, like Qwen3's and DeepSeek-R1's templates, has the model reason in <c>&lt;think&gt;</c> blocks
    /// and keeps them out of the history; llama.cpp applies it as ChatML, the API splits the blocks off the reply.
    /// </summary>
    public const string ThinkingChatMLTemplate =
        "{% for message in messages %}{% set content = message['content'] %}" +
        "{% if message['role'] == 'assistant' and '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}" +
        "{{'<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>' + '\\n'}}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /// <summary>Writes the <c>tokenizer.*</c> metadata.</summary>
    /// <param name="chatTemplate">The model's chat template (default <see cref="ChatMLTemplate"/>).</param>
    public void WriteMetadata(GgufWriter writer, string preTokenizer = "qwen2", string? chatTemplate = null)
    {
        writer.Add("tokenizer.ggml.model", "gpt2")
            .Add("tokenizer.ggml.pre", preTokenizer)
            .Add("tokenizer.ggml.tokens", _tokens)
            .Add("tokenizer.ggml.token_type", _types)
            .Add("tokenizer.ggml.merges", Merges)
            // Explicit ids: llama.cpp's defaults (11) would point at a byte token.
            .Add("tokenizer.ggml.bos_token_id", (uint)(IsLlama3 ? _ids[BeginOfText] : EndOfTextId))
            .Add("tokenizer.ggml.eos_token_id", (uint)EndOfTurnId)
            .Add("tokenizer.ggml.eot_token_id", (uint)EndOfTurnId)
            .Add("tokenizer.ggml.padding_token_id", (uint)EndOfTextId)
            // Llama 3's tokenizer adds <|begin_of_text|>; Qwen's adds nothing.
            .Add("tokenizer.ggml.add_bos_token", IsLlama3)
            .Add("tokenizer.chat_template", chatTemplate ?? ChatMLTemplate);
    }

    private void AddToken(string text, TokenType type)
    {
        if (_ids.ContainsKey(text))
        {
            return;
        }
        _ids[text] = _tokens.Count;
        _tokens.Add(text);
        _types.Add((int)type);
    }

    private static (byte[] Order, string[] ByByte) BuildByteTable()
    {
        var printable = new List<int>();
        printable.AddRange(Enumerable.Range('!', '~' - '!' + 1));
        printable.AddRange(Enumerable.Range('¡', '¬' - '¡' + 1));
        printable.AddRange(Enumerable.Range('®', 'ÿ' - '®' + 1));
        var order = new List<int>(printable);
        var codePoints = new List<int>(printable);
        var next = 0;
        for (var b = 0; b < 256; b++)
        {
            if (!printable.Contains(b))
            {
                order.Add(b);
                codePoints.Add(256 + next++);
            }
        }
        var byByte = new string[256];
        for (var i = 0; i < order.Count; i++)
        {
            byByte[order[i]] = char.ConvertFromUtf32(codePoints[i]);
        }
        return (order.Select(b => (byte)b).ToArray(), byByte);
    }

    private enum TokenType
    {
        Normal = 1,
        Control = 3,
    }
}
