using System.Reflection;
using System.Reflection.Emit;

namespace LlmStack.Tests.Api.Architecture;

/// <summary>
/// Which namespaces of an assembly use which others, read from the compiled code - signatures, base types, fields,
/// attributes and every type or member a method body names (its IL tokens) - so nothing written in the source can
/// hide a reference (a using directive, a fully qualified name, a parent namespace's implicit visibility).
/// </summary>
internal sealed class NamespaceGraph
{
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(op => op.Value);

    private const BindingFlags Declared =
        BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private readonly Dictionary<string, HashSet<string>> _edges = new(StringComparer.Ordinal);

    public NamespaceGraph(IEnumerable<(string From, string To)> edges)
    {
        foreach (var (from, to) in edges)
        {
            Add(from, to);
        }
    }

    /// <summary>Every reference between distinct namespaces of <paramref name="assembly"/>, each once.</summary>
    public static NamespaceGraph Of(Assembly assembly)
    {
        var graph = new NamespaceGraph([]);
        foreach (var type in assembly.GetTypes())
        {
            if (type.Namespace is not { } from)
            {
                continue;
            }
            foreach (var used in TypesUsedBy(type).Where(t => t.Assembly == assembly && t.Namespace is not null))
            {
                graph.Add(from, used.Namespace!);
            }
        }
        return graph;
    }

    public IReadOnlyCollection<string> Namespaces => _edges.Keys;

    /// <summary>The same references between groups of namespaces (<paramref name="group"/> names each one's group).</summary>
    public NamespaceGraph Grouped(Func<string, string> group) => new(Edges.Select(e => (group(e.From), group(e.To))));

    public IEnumerable<(string From, string To)> Edges =>
        _edges.SelectMany(e => e.Value.Select(to => (e.Key, to)));

    /// <summary>Namespaces that reach themselves through others: each cycle as one ordered list (empty when there are none).</summary>
    public List<List<string>> Cycles()
    {
        var cycles = new List<List<string>>();
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 on the path, 2 done
        var path = new List<string>();
        foreach (var start in _edges.Keys.Order(StringComparer.Ordinal))
        {
            Visit(start);
        }
        return cycles;

        void Visit(string node)
        {
            if (state.GetValueOrDefault(node) == 2)
            {
                return;
            }
            if (state.GetValueOrDefault(node) == 1)
            {
                cycles.Add([.. path[path.IndexOf(node)..], node]);
                return;
            }
            state[node] = 1;
            path.Add(node);
            foreach (var next in _edges.GetValueOrDefault(node, []).Order(StringComparer.Ordinal))
            {
                Visit(next);
            }
            path.RemoveAt(path.Count - 1);
            state[node] = 2;
        }
    }

    private void Add(string from, string to)
    {
        _edges.TryAdd(to, []);
        if (!_edges.TryGetValue(from, out var targets))
        {
            _edges[from] = targets = [];
        }
        if (from != to)
        {
            targets.Add(to);
        }
    }

    private static IEnumerable<Type> TypesUsedBy(Type type)
    {
        var used = new List<Type?> { type.BaseType };
        used.AddRange(type.GetInterfaces());
        used.AddRange(type.GetCustomAttributesData().Select(a => a.AttributeType));
        if (type.IsGenericTypeDefinition)
        {
            used.AddRange(type.GetGenericArguments().SelectMany(a => a.GetGenericParameterConstraints()));
        }
        foreach (var field in type.GetFields(Declared))
        {
            used.Add(field.FieldType);
        }
        foreach (var property in type.GetProperties(Declared))
        {
            used.Add(property.PropertyType);
        }
        foreach (var e in type.GetEvents(Declared))
        {
            used.Add(e.EventHandlerType);
        }
        foreach (var method in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
        {
            if (method is MethodInfo info)
            {
                used.Add(info.ReturnType);
            }
            used.AddRange(method.GetParameters().Select(p => p.ParameterType));
            used.AddRange(method.GetCustomAttributesData().Select(a => a.AttributeType));
            used.AddRange(TypesInBody(type, method));
        }
        return used.OfType<Type>().SelectMany(Unwrap);
    }

    /// <summary>The types a method's body names: its locals and the tokens of its IL (types, members' declaring types and signatures).</summary>
    private static IEnumerable<Type> TypesInBody(Type type, MethodBase method)
    {
        var body = method.GetMethodBody();
        if (body is null)
        {
            yield break;
        }
        foreach (var local in body.LocalVariables)
        {
            yield return local.LocalType;
        }
        var il = body.GetILAsByteArray() ?? [];
        var typeArguments = type.IsGenericType ? type.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (var at = 0; at < il.Length;)
        {
            var code = il[at] == 0xFE ? OpCodesByValue[(short)(0xFE00 | il[at + 1])] : OpCodesByValue[il[at]];
            at += code.Size;
            if (code.OperandType is OperandType.InlineType or OperandType.InlineTok or OperandType.InlineMethod or OperandType.InlineField)
            {
                var token = BitConverter.ToInt32(il, at);
                foreach (var used in Resolve(method.Module, token, typeArguments, methodArguments))
                {
                    yield return used;
                }
            }
            at += OperandSize(code.OperandType, il, at);
        }
    }

    private static IEnumerable<Type> Resolve(Module module, int token, Type[]? typeArguments, Type[]? methodArguments)
    {
        MemberInfo? member;
        try
        {
            member = module.ResolveMember(token, typeArguments, methodArguments);
        }
        catch (ArgumentException)
        {
            yield break;
        }
        switch (member)
        {
            case Type type:
                yield return type;
                break;
            case FieldInfo field:
                yield return field.DeclaringType!;
                yield return field.FieldType;
                break;
            case MethodBase called:
                if (called.DeclaringType is { } declaring)
                {
                    yield return declaring;
                }
                if (called is MethodInfo { IsGenericMethod: true } generic)
                {
                    foreach (var argument in generic.GetGenericArguments())
                    {
                        yield return argument;
                    }
                }
                break;
        }
    }

    private static int OperandSize(OperandType operand, byte[] il, int at) => operand switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        OperandType.InlineSwitch => 4 + (4 * BitConverter.ToInt32(il, at)),
        _ => 4,
    };

    /// <summary>A type with the types it is built from: generic arguments, element types.</summary>
    private static IEnumerable<Type> Unwrap(Type type)
    {
        if (type.HasElementType)
        {
            foreach (var inner in Unwrap(type.GetElementType()!))
            {
                yield return inner;
            }
            yield break;
        }
        if (type.IsGenericParameter)
        {
            yield break;
        }
        yield return type;
        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            foreach (var inner in type.GetGenericArguments().SelectMany(Unwrap))
            {
                yield return inner;
            }
        }
    }
}
