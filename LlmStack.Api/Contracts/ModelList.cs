namespace LlmStack.Api.Contracts;

/// <summary>GET /v1/models.</summary>
internal sealed record ModelList
{
    public string Object => "list";

    public required List<ModelObject> Data { get; init; }
}

/// <summary>One model in OpenAI's shape, plus where it runs (<see cref="Backend"/>) and whether it is the demo model.</summary>
internal sealed record ModelObject
{
    public required string Id { get; init; }

    public string Object => "model";

    public long Created { get; init; }

    public required string OwnedBy { get; init; }

    public required string Backend { get; init; }

    /// <summary>Present (true) only for the built-in demo model; UIs label it.</summary>
    public bool? Demo { get; init; }

    public int? ContextLength { get; init; }
}
