using System.Text;

namespace LlmStack.Api.Backends.Embedded;

/// <summary>A GBNF expression: the body of a rule, or part of one.</summary>
internal abstract class GbnfExpr
{
    /// <summary>The empty string.</summary>
    public static readonly GbnfExpr Empty = new GbnfLiteral("");

    /// <summary>A rule's name, a literal or a character class: what a repetition may repeat without a group.</summary>
    public bool IsSymbol => this is GbnfRef or GbnfLiteral or GbnfTerminal { IsClass: true };
}

/// <summary>A string literal (<c>"..."</c>); the empty literal matches the empty string.</summary>
internal sealed class GbnfLiteral(string text) : GbnfExpr
{
    public string Text { get; } = text;
}

/// <summary>
/// A terminal written as GBNF text: a character class (<c>[0-9]</c>) or a fixed expression of literals and classes
/// only. It matches at least one character and names no rule.
/// </summary>
internal sealed class GbnfTerminal(string gbnf) : GbnfExpr
{
    public string Gbnf { get; } = gbnf;

    /// <summary>One character class, written without parentheses wherever it stands.</summary>
    public bool IsClass { get; } = gbnf.StartsWith('[') && gbnf.IndexOf(']', 1) == gbnf.Length - 1;
}

internal sealed class GbnfRef(int rule) : GbnfExpr
{
    public int Rule { get; } = rule;
}

internal sealed class GbnfSequence(IReadOnlyList<GbnfExpr> items) : GbnfExpr
{
    public IReadOnlyList<GbnfExpr> Items { get; } = items;
}

internal sealed class GbnfChoice(IReadOnlyList<GbnfExpr> alternatives) : GbnfExpr
{
    public IReadOnlyList<GbnfExpr> Alternatives { get; } = alternatives;
}

/// <summary>
/// <c>item{min,max}</c> (<c>max</c> null: unbounded) of a single symbol, with both counts at most
/// <see cref="GbnfGrammar.MaxRepetition"/>: llama.cpp refuses 2000 and more, and multiplies the rules a group
/// repeats, so larger counts are built from rules of their own (<see cref="GbnfGrammar.Repeat"/>).
/// </summary>
internal sealed class GbnfRepeat : GbnfExpr
{
    public GbnfRepeat(GbnfExpr item, int min, int? max)
    {
        if (!item.IsSymbol || min < 0 || max < min || Math.Max(min, max ?? 0) > GbnfGrammar.MaxRepetition)
        {
            throw new ArgumentException($"A repetition is of one symbol, at most {GbnfGrammar.MaxRepetition} times.");
        }
        (Item, Min, Max) = (item, min, max);
    }

    public GbnfExpr Item { get; }

    public int Min { get; }

    public int? Max { get; }
}

/// <summary>What a grammar can never do: a rule that cannot end, or one that reaches itself before writing anything.</summary>
internal sealed record GbnfProblem(int Rule, string Reason);

/// <summary>
/// A GBNF grammar built as named rules of expression trees, so that it can be checked before llama.cpp sees it
/// (every rule can end; no rule reaches itself before writing a character, which llama.cpp refuses as left
/// recursion), its size is known as it grows, and its text is written once, in linear time. Rule names are
/// made unique with a counter per name, in constant time each.
/// </summary>
internal sealed class GbnfGrammar
{
    /// <summary>The largest count written as <c>{m,n}</c>: llama.cpp refuses 2000 and more.</summary>
    public const int MaxRepetition = 1000;

    private readonly List<Rule> _rules = [];
    private readonly HashSet<string> _taken = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _nextSuffix = new(StringComparer.Ordinal);

    // Chains shared by every repetition of one symbol (keyed by the symbol's GBNF text): exactly[n] and upTo[n]
    // are rules matching exactly n and at most n of it, each defined through the one below it.
    private readonly Dictionary<string, List<int>> _exactly = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<int>> _upTo = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Symbol, int Count), int> _longUpTo = [];

    private sealed class Rule(string name, string origin)
    {
        public string Name { get; } = name;

        /// <summary>Where in the schema the rule comes from (a JSON pointer), for error messages.</summary>
        public string Origin { get; } = origin;

        public GbnfExpr? Body { get; set; }
    }

    /// <summary>Called for every node added: the owner counts them and stops a grammar that grows too large.</summary>
    public Action<int>? Growing { get; init; }

    public int RuleCount => _rules.Count;

    /// <summary>Names no rule may take (the converter's own building blocks are added under these names).</summary>
    public void Reserve(string name) => _taken.Add(name);

    /// <summary>A new rule, named after <paramref name="nameHint"/>; its body is set later with <see cref="Define"/>.</summary>
    public int Declare(string nameHint, string origin) => DeclareNamed(UniqueName(nameHint), origin);

    /// <summary>A new rule under exactly <paramref name="name"/> (a reserved building block).</summary>
    public int DeclareNamed(string name, string origin)
    {
        _taken.Add(name);
        _rules.Add(new Rule(name, origin));
        Growing?.Invoke(name.Length + 8);
        return _rules.Count - 1;
    }

    public void Define(int rule, GbnfExpr body) => _rules[rule].Body = body;

    /// <summary>A new rule with <paramref name="body"/>, referenced.</summary>
    public GbnfRef Add(string nameHint, string origin, GbnfExpr body)
    {
        var rule = Declare(nameHint, origin);
        Define(rule, body);
        return new GbnfRef(rule);
    }

    public string NameOf(int rule) => _rules[rule].Name;

    public string OriginOf(int rule) => _rules[rule].Origin;

    public GbnfExpr Literal(string text)
    {
        Growing?.Invoke(text.Length + 2);
        return new GbnfLiteral(text);
    }

    public GbnfExpr Terminal(string gbnf)
    {
        Growing?.Invoke(gbnf.Length);
        return new GbnfTerminal(gbnf);
    }

    public GbnfExpr Sequence(params IEnumerable<GbnfExpr> items)
    {
        var list = items.Where(item => item is not GbnfLiteral { Text.Length: 0 }).ToList();
        Growing?.Invoke(list.Count + 1 + NamesIn(list));
        return list.Count switch
        {
            0 => GbnfExpr.Empty,
            1 => list[0],
            _ => new GbnfSequence(list),
        };
    }

    public GbnfExpr Choice(params IEnumerable<GbnfExpr> alternatives)
    {
        var list = alternatives.ToList();
        Growing?.Invoke(list.Count * 3 + 4 + NamesIn(list));
        return list.Count == 1 ? list[0] : new GbnfChoice(list);
    }

    // A reference is written as its rule's name.
    private int NamesIn(List<GbnfExpr> items) => items.Sum(item => item is GbnfRef reference ? _rules[reference.Rule].Name.Length : 0);

    public GbnfExpr Optional(GbnfExpr item) => Choice(item, GbnfExpr.Empty);

    /// <summary>
    /// One of <paramref name="texts"/>, written as a tree of their common prefixes ("value-1" | "value-2" becomes
    /// "value-" ( "1" | "2" )): llama.cpp follows every alternative that matches so far, and compares them with
    /// each other at every character, so a flat list of thousands would cost it quadratic time per token.
    /// </summary>
    public GbnfExpr Alternatives(IReadOnlyList<string> texts)
    {
        var sorted = texts.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return sorted.Count == 0 ? throw new ArgumentException("No alternative.", nameof(texts)) : Prefixes(sorted, 0, sorted.Count, 0, depth: 0);
    }

    // The deepest branching written as a tree; below it, the rest are plain alternatives (bounded nesting).
    private const int MaxPrefixDepth = 64;

    // texts[from..to) share their first `common` characters (already written); they are sorted.
    private GbnfExpr Prefixes(List<string> texts, int from, int to, int common, int depth)
    {
        if (to - from == 1 || depth == MaxPrefixDepth)
        {
            return Choice(texts.GetRange(from, to - from).Select(text => Literal(text[common..])));
        }
        // Extend the shared prefix as far as every text goes along (never splitting a surrogate pair).
        var shared = SharedLength(texts[from], texts[to - 1], common);
        var alternatives = new List<GbnfExpr>();
        var i = from;
        if (texts[i].Length == shared)
        {
            // One text ends here (sorted first).
            alternatives.Add(GbnfExpr.Empty);
            i++;
        }
        while (i < to)
        {
            // The texts whose next character (a whole code point) is the same.
            var step = char.IsHighSurrogate(texts[i][shared]) && shared + 1 < texts[i].Length ? 2 : 1;
            var j = i + 1;
            while (j < to && texts[j].Length >= shared + step && string.CompareOrdinal(texts[j], shared, texts[i], shared, step) == 0)
            {
                j++;
            }
            alternatives.Add(Prefixes(texts, i, j, shared, depth + 1));
            i = j;
        }
        return Sequence(Literal(texts[from][common..shared]), Choice(alternatives));
    }

    // Sorted texts share with their first what the first and the last share.
    private static int SharedLength(string first, string last, int common)
    {
        var length = common;
        while (length < first.Length && length < last.Length && first[length] == last[length])
        {
            length++;
        }
        if (length > common && char.IsHighSurrogate(first[length - 1]))
        {
            length--;
        }
        return length;
    }

    /// <summary>
    /// <paramref name="item"/> <paramref name="min"/> to <paramref name="max"/> times (null: unbounded), for any
    /// counts: small ones as <c>{m,n}</c>, larger ones through rules shared by every repetition of the same
    /// symbol (blocks of <see cref="MaxRepetition"/>), so the grammar grows with the largest count, not their sum,
    /// and every prefix of the output still has a single reading (no ambiguity for llama.cpp to track).
    /// </summary>
    public GbnfExpr Repeat(GbnfExpr item, int min, int? max, string nameHint, string origin)
    {
        if (max == 0)
        {
            return GbnfExpr.Empty;
        }
        var symbol = item.IsSymbol ? item : Add(nameHint, origin, item);
        if (min <= MaxRepetition && max <= MaxRepetition || max is null && min <= MaxRepetition)
        {
            Growing?.Invoke(8);
            return min == 1 && max == 1 ? symbol : new GbnfRepeat(symbol, min, max);
        }
        var key = Render(symbol);
        var exactly = Exactly(symbol, key, min, nameHint, origin);
        var rest = max is null ? new GbnfRepeat(symbol, 0, null) : UpTo(symbol, key, max.Value - min, nameHint, origin);
        return Sequence(exactly, rest);
    }

    // Exactly n: whole blocks, then the remainder.
    private GbnfExpr Exactly(GbnfExpr symbol, string key, int n, string nameHint, string origin)
    {
        if (n <= MaxRepetition)
        {
            return n == 0 ? GbnfExpr.Empty : new GbnfRepeat(symbol, n, n);
        }
        var block = new GbnfRef(Chain(_exactly, symbol, key, MaxRepetition, nameHint + "-x", origin, upTo: false));
        return Sequence(new GbnfRepeat(block, n / MaxRepetition, n / MaxRepetition), Exactly(symbol, key, n % MaxRepetition, nameHint, origin));
    }

    // At most n: below a block, or a whole block and at most n - block more.
    private GbnfExpr UpTo(GbnfExpr symbol, string key, int n, string nameHint, string origin)
    {
        if (n < MaxRepetition)
        {
            return n == 0 ? GbnfExpr.Empty : new GbnfRef(Chain(_upTo, symbol, key, n, nameHint + "-upto", origin, upTo: true));
        }
        if (_longUpTo.TryGetValue((key, n), out var known))
        {
            return new GbnfRef(known);
        }
        var rule = Declare($"{nameHint}-upto-{n}", origin);
        _longUpTo[(key, n)] = rule;
        var below = new GbnfRef(Chain(_upTo, symbol, key, MaxRepetition - 1, nameHint + "-upto", origin, upTo: true));
        var block = new GbnfRef(Chain(_exactly, symbol, key, MaxRepetition, nameHint + "-x", origin, upTo: false));
        Define(rule, Choice(below, Sequence(block, UpTo(symbol, key, n - MaxRepetition, nameHint, origin))));
        return new GbnfRef(rule);
    }

    // The chain's rule for n, extending it as far as needed: exactly-n ::= s exactly-(n-1); upto-n ::= s upto-(n-1) | "".
    // The reference sits last in its rule, where llama.cpp does not grow its stack.
    private int Chain(Dictionary<string, List<int>> chains, GbnfExpr symbol, string key, int n, string nameHint, string origin, bool upTo)
    {
        if (!chains.TryGetValue(key, out var chain))
        {
            chains[key] = chain = [];
        }
        while (chain.Count < n)
        {
            var length = chain.Count + 1;
            var step = chain.Count == 0 ? symbol : Sequence(symbol, new GbnfRef(chain[^1]));
            var rule = Declare($"{nameHint}-{length}", origin);
            Define(rule, upTo ? Optional(step) : step);
            chain.Add(rule);
        }
        return chain[n - 1];
    }

    /// <summary>
    /// The first problem llama.cpp would have or a client would see, or null: a rule reachable from
    /// <paramref name="root"/> that can never end (every way through it needs itself again), or one that reaches
    /// itself before writing a character (left recursion, which llama.cpp refuses).
    /// </summary>
    public GbnfProblem? Check(int root, CancellationToken cancellationToken)
    {
        var references = new int[_rules.Count][];
        var collected = new List<int>();
        for (var rule = 0; rule < _rules.Count; rule++)
        {
            collected.Clear();
            // A rule left undefined (a tool's schema given up half way) is unreachable: it names nothing.
            if (_rules[rule].Body is { } body)
            {
                CollectReferences(body, collected);
            }
            references[rule] = [.. collected.Distinct()];
        }
        var reachable = Reachable(root, references);
        var nullable = Fixpoint(references, Nullable, cancellationToken);
        var productive = Fixpoint(references, Productive, cancellationToken);
        foreach (var rule in reachable)
        {
            if (!productive[rule])
            {
                return new GbnfProblem(rule, "it can never end: every value it allows contains itself again (a $ref cycle with no way out, such as a required property of the schema's own type)");
            }
        }
        return LeftRecursion(reachable, nullable, cancellationToken) is { } cyclic
            ? new GbnfProblem(cyclic, "it refers to itself before any character is written (a $ref, anyOf or allOf cycle that writes nothing in between)")
            : null;
    }

    /// <summary>
    /// The GBNF text of the rules reachable from <paramref name="root"/>, in breadth-first order from it: llama.cpp
    /// numbers rules as it meets them and checks left recursion from each in that order without remembering what
    /// it checked, so a chain written tail first would cost it quadratic time.
    /// </summary>
    public string Render(int root)
    {
        var order = new List<int> { root };
        var seen = new bool[_rules.Count];
        seen[root] = true;
        var collected = new List<int>();
        for (var i = 0; i < order.Count; i++)
        {
            collected.Clear();
            CollectReferences(_rules[order[i]].Body!, collected);
            foreach (var child in collected)
            {
                if (!seen[child])
                {
                    seen[child] = true;
                    order.Add(child);
                }
            }
        }
        var text = new StringBuilder();
        foreach (var rule in order)
        {
            WriteRule(text, rule);
        }
        return text.ToString();
    }

    private void WriteRule(StringBuilder text, int rule)
    {
        text.Append(_rules[rule].Name).Append(" ::= ");
        Write(text, _rules[rule].Body ?? throw new InvalidOperationException($"Rule {_rules[rule].Name} was declared but never defined."), nested: false);
        text.Append('\n');
    }

    private string Render(GbnfExpr expression)
    {
        var text = new StringBuilder();
        Write(text, expression, nested: true);
        return text.ToString();
    }

    private void Write(StringBuilder text, GbnfExpr expression, bool nested)
    {
        switch (expression)
        {
            case GbnfLiteral literal:
                WriteLiteral(text, literal.Text);
                break;
            case GbnfTerminal terminal:
                var group = nested && !terminal.IsClass;
                text.Append(group ? "( " : "").Append(terminal.Gbnf).Append(group ? " )" : "");
                break;
            case GbnfRef reference:
                text.Append(_rules[reference.Rule].Name);
                break;
            case GbnfSequence sequence:
                for (var i = 0; i < sequence.Items.Count; i++)
                {
                    text.Append(i == 0 ? "" : " ");
                    Write(text, sequence.Items[i], nested: true);
                }
                break;
            case GbnfChoice choice:
                text.Append(nested ? "( " : "");
                for (var i = 0; i < choice.Alternatives.Count; i++)
                {
                    text.Append(i == 0 ? "" : " | ");
                    Write(text, choice.Alternatives[i], nested: false);
                }
                text.Append(nested ? " )" : "");
                break;
            case GbnfRepeat repeat:
                Write(text, repeat.Item, nested: true);
                text.Append('{').Append(repeat.Min).Append(',');
                if (repeat.Max is { } max)
                {
                    text.Append(max);
                }
                text.Append('}');
                break;
        }
    }

    /// <summary>A GBNF string literal of <paramref name="value"/>.</summary>
    public static string LiteralText(string value)
    {
        var text = new StringBuilder(value.Length + 2);
        WriteLiteral(text, value);
        return text.ToString();
    }

    private static void WriteLiteral(StringBuilder text, string value)
    {
        text.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '\\':
                    text.Append("\\\\");
                    break;
                case '"':
                    text.Append("\\\"");
                    break;
                case '\n':
                    text.Append("\\n");
                    break;
                case '\r':
                    text.Append("\\r");
                    break;
                case '\t':
                    text.Append("\\t");
                    break;
                case < ' ':
                    text.Append("\\x").Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
                    break;
                default:
                    text.Append(c);
                    break;
            }
        }
        text.Append('"');
    }

    // GBNF rule names are letters, digits and dashes. A hint is cut short (a property's name may be long) and
    // numbered when taken: the counter per name makes each new name cost constant time.
    private const int MaxNameLength = 32;

    private string UniqueName(string hint)
    {
        var clean = new StringBuilder(Math.Min(hint.Length, MaxNameLength));
        foreach (var c in hint)
        {
            if (clean.Length == MaxNameLength)
            {
                break;
            }
            var next = char.IsAsciiLetterOrDigit(c) ? c : '-';
            // Runs of punctuation become one dash.
            if (next != '-' || clean.Length == 0 || clean[^1] != '-')
            {
                clean.Append(next);
            }
        }
        var baseName = clean.ToString().Trim('-');
        if (baseName.Length == 0)
        {
            baseName = "rule";
        }
        if (_taken.Add(baseName))
        {
            return baseName;
        }
        var next2 = _nextSuffix.GetValueOrDefault(baseName, 2);
        string name;
        while (!_taken.Add(name = $"{baseName}-{next2}"))
        {
            next2++;
        }
        _nextSuffix[baseName] = next2 + 1;
        return name;
    }

    private static List<int> Reachable(int root, int[][] references)
    {
        var seen = new bool[references.Length];
        var order = new List<int> { root };
        seen[root] = true;
        for (var i = 0; i < order.Count; i++)
        {
            foreach (var child in references[order[i]])
            {
                if (!seen[child])
                {
                    seen[child] = true;
                    order.Add(child);
                }
            }
        }
        return order;
    }

    // A property that holds for a rule once it holds for enough of the rules it names (nullable, productive):
    // a rule is evaluated again only when a rule it names turns true, so the fixpoint costs the grammar's size
    // times the references of a rule, which the converter keeps small (long lists are of literals).
    private bool[] Fixpoint(int[][] references, Func<GbnfExpr, bool[], bool> holds, CancellationToken cancellationToken)
    {
        var value = new bool[_rules.Count];
        var dependents = new List<int>?[_rules.Count];
        for (var rule = 0; rule < _rules.Count; rule++)
        {
            foreach (var child in references[rule])
            {
                (dependents[child] ??= []).Add(rule);
            }
        }
        var pending = new Stack<int>(_rules.Count);
        for (var rule = _rules.Count - 1; rule >= 0; rule--)
        {
            pending.Push(rule);
        }
        var steps = 0;
        while (pending.TryPop(out var rule))
        {
            if ((++steps & 1023) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            if (value[rule] || !holds(_rules[rule].Body ?? GbnfExpr.Empty, value))
            {
                continue;
            }
            value[rule] = true;
            if (dependents[rule] is { } waiting)
            {
                foreach (var dependent in waiting)
                {
                    if (!value[dependent])
                    {
                        pending.Push(dependent);
                    }
                }
            }
        }
        return value;
    }

    private static bool Nullable(GbnfExpr expression, bool[] rules) => Holds(expression, rules, terminals: false);

    private static bool Productive(GbnfExpr expression, bool[] rules) => Holds(expression, rules, terminals: true);

    // Nullable and productive differ only in what a non-empty terminal gives.
    private static bool Holds(GbnfExpr expression, bool[] rules, bool terminals)
    {
        switch (expression)
        {
            case GbnfLiteral literal:
                return literal.Text.Length == 0 || terminals;
            case GbnfTerminal:
                return terminals;
            case GbnfRef reference:
                return rules[reference.Rule];
            case GbnfSequence sequence:
                foreach (var item in sequence.Items)
                {
                    if (!Holds(item, rules, terminals))
                    {
                        return false;
                    }
                }
                return true;
            case GbnfChoice choice:
                foreach (var alternative in choice.Alternatives)
                {
                    if (Holds(alternative, rules, terminals))
                    {
                        return true;
                    }
                }
                return false;
            case GbnfRepeat repeat:
                return repeat.Min == 0 || Holds(repeat.Item, rules, terminals);
            default:
                return false;
        }
    }

    // A rule on a cycle of "may start with" edges (a rule it names before any character, all before it being
    // able to match nothing). Iterative depth-first search: schemas may chain thousands of references.
    private int? LeftRecursion(List<int> reachable, bool[] nullable, CancellationToken cancellationToken)
    {
        var starts = new List<int>?[_rules.Count];
        foreach (var rule in reachable)
        {
            var first = new List<int>();
            Starts(_rules[rule].Body!, nullable, first);
            starts[rule] = first;
        }
        // 0 unvisited, 1 on the current path, 2 done.
        var state = new byte[_rules.Count];
        var steps = 0;
        foreach (var start in reachable)
        {
            if (state[start] != 0)
            {
                continue;
            }
            var path = new Stack<(int Rule, int Next)>();
            path.Push((start, 0));
            state[start] = 1;
            while (path.TryPop(out var frame))
            {
                if ((++steps & 1023) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }
                var edges = starts[frame.Rule]!;
                if (frame.Next == edges.Count)
                {
                    state[frame.Rule] = 2;
                    continue;
                }
                path.Push((frame.Rule, frame.Next + 1));
                var child = edges[frame.Next];
                if (state[child] == 1)
                {
                    return child;
                }
                if (state[child] == 0)
                {
                    state[child] = 1;
                    path.Push((child, 0));
                }
            }
        }
        return null;
    }

    // The rules an expression may start with; true when it can also match nothing (so what follows may start too).
    private static bool Starts(GbnfExpr expression, bool[] nullable, List<int> into)
    {
        switch (expression)
        {
            case GbnfLiteral literal:
                return literal.Text.Length == 0;
            case GbnfTerminal:
                return false;
            case GbnfRef reference:
                into.Add(reference.Rule);
                return nullable[reference.Rule];
            case GbnfSequence sequence:
                foreach (var item in sequence.Items)
                {
                    if (!Starts(item, nullable, into))
                    {
                        return false;
                    }
                }
                return true;
            case GbnfChoice choice:
                var any = false;
                foreach (var alternative in choice.Alternatives)
                {
                    any |= Starts(alternative, nullable, into);
                }
                return any;
            case GbnfRepeat repeat:
                return Starts(repeat.Item, nullable, into) || repeat.Min == 0;
            default:
                return false;
        }
    }

    private static void CollectReferences(GbnfExpr expression, List<int> into)
    {
        switch (expression)
        {
            case GbnfRef reference:
                into.Add(reference.Rule);
                break;
            case GbnfSequence sequence:
                foreach (var item in sequence.Items)
                {
                    CollectReferences(item, into);
                }
                break;
            case GbnfChoice choice:
                foreach (var alternative in choice.Alternatives)
                {
                    CollectReferences(alternative, into);
                }
                break;
            case GbnfRepeat repeat:
                CollectReferences(repeat.Item, into);
                break;
        }
    }
}
