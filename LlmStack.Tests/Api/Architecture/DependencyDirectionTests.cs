using LlmStack.Api;

namespace LlmStack.Tests.Api.Architecture;

/// <summary>
/// LlmStack.Api's dependencies point one way, as a request travels: endpoints (wire shapes) -> the endpoints' shared
/// call path -> the pipeline -> the backends, with leaf namespaces everyone may use. Read from the compiled API, so a
/// new reference that breaks the direction fails here, whatever the source looks like.
/// </summary>
public sealed class DependencyDirectionTests
{
    private const string Root = "LlmStack.Api";

    /// <summary>
    /// The layers below the endpoints, lowest first; a namespace may use only lower layers. Every other namespace is an
    /// endpoint feature (ChatCompletions, Responses, Embeddings, Models, ...), above them all, beside the others.
    /// </summary>
    private static readonly Dictionary<string, int> Layers = new(StringComparer.Ordinal)
    {
        // Leaves: the wire records, the error type, the public options, the instruments.
        ["Contracts"] = 0,
        ["Errors"] = 0,
        ["Configuration"] = 0,
        ["Telemetry"] = 1,
        // The backends: what runs a model (Backends holds their shared contract; each backend is a namespace below it).
        ["Backends"] = 2,
        // Keys and budgets; admission, cutoff and drain.
        ["Access"] = 3,
        ["Limits"] = 3,
        // The model catalog and every model's pipeline; a request's outcome.
        ["Pipeline"] = 4,
        // The call path every endpoint shares: body, model, call, SSE, request rules, errors on the wire.
        ["Endpoints"] = 5,
    };

    private const int FeatureLayer = 6;

    private const int RootLayer = 7;

    /// <summary>
    /// The API's namespaces as units: each backend with its own sub-namespaces (the embedded engine's batching and hub
    /// are parts of it) is one unit, everything else a namespace of its own.
    /// </summary>
    private static readonly NamespaceGraph Api = NamespaceGraph.Of(typeof(LlmStackApi).Assembly).Grouped(Unit);

    private static string Unit(string ns)
    {
        var parts = ns.Split('.');
        return parts.Length > 4 && parts[2] == "Backends" ? string.Join('.', parts[..4]) : ns;
    }

    [Fact]
    public void No_namespace_of_the_api_reaches_itself_through_others()
    {
        var cycles = Api.Cycles();

        Assert.True(cycles.Count == 0, "Namespace cycles:\n" + string.Join("\n", cycles.Select(c => string.Join(" -> ", c))));
    }

    [Fact]
    public void Every_reference_points_down_the_layers_and_no_endpoint_uses_another()
    {
        var violations = Violations(Api);

        Assert.True(violations.Count == 0, "References against the direction:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void The_check_finds_a_cycle_and_a_reference_up_the_layers()
    {
        // A graph like the one issue 19 found: Pipeline <-> Telemetry, Pipeline -> ChatCompletions.
        var broken = new NamespaceGraph(
        [
            ($"{Root}.Pipeline", $"{Root}.Telemetry"),
            ($"{Root}.Telemetry", $"{Root}.Pipeline"),
            ($"{Root}.Pipeline", $"{Root}.ChatCompletions"),
            ($"{Root}.Responses", $"{Root}.ChatCompletions"),
            ($"{Root}.Endpoints", $"{Root}.Backends.Embedded"),
        ]);

        Assert.Contains(broken.Cycles(), cycle => cycle.Contains($"{Root}.Telemetry") && cycle.Contains($"{Root}.Pipeline"));
        var violations = Violations(broken);
        Assert.Contains(violations, v => v.StartsWith($"{Root}.Telemetry -> {Root}.Pipeline", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.StartsWith($"{Root}.Pipeline -> {Root}.ChatCompletions", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.StartsWith($"{Root}.Responses -> {Root}.ChatCompletions", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.StartsWith($"{Root}.Endpoints -> {Root}.Backends.Embedded", StringComparison.Ordinal));
    }

    private static List<string> Violations(NamespaceGraph graph)
    {
        var violations = new List<string>();
        foreach (var (from, to) in graph.Edges.Where(e => e.From.StartsWith(Root, StringComparison.Ordinal) && e.To.StartsWith(Root, StringComparison.Ordinal)))
        {
            var (fromTop, toTop) = (Top(from), Top(to));
            if (fromTop == "Backends" && toTop == "Backends")
            {
                continue; // Within the backends: one backend may use the shared upstream helpers; cycles are checked apart.
            }
            if (to.StartsWith($"{Root}.Backends.", StringComparison.Ordinal) && from != Root)
            {
                violations.Add($"{from} -> {to}: only the backends name a backend's own namespace; share through {Root}.Backends");
                continue;
            }
            var (fromLayer, toLayer) = (LayerOf(fromTop), LayerOf(toTop));
            if (fromLayer == FeatureLayer && toLayer == FeatureLayer)
            {
                violations.Add($"{from} -> {to}: endpoints do not use each other; what both need belongs in {Root}.Endpoints");
            }
            else if (toTop == "Contracts" && fromLayer < Layers["Endpoints"])
            {
                violations.Add($"{from} -> {to}: wire shapes are the endpoints' business, below them nothing knows OpenAI's JSON");
            }
            else if (fromLayer <= toLayer)
            {
                violations.Add($"{from} -> {to}: a reference up the layers ({fromLayer} -> {toLayer})");
            }
        }
        return violations;
    }

    /// <summary>The namespace's first segment below the API's root ("" for the root itself).</summary>
    private static string Top(string ns) =>
        ns == Root ? "" : ns[(Root.Length + 1)..].Split('.')[0];

    private static int LayerOf(string top) => top == "" ? RootLayer : Layers.GetValueOrDefault(top, FeatureLayer);
}
