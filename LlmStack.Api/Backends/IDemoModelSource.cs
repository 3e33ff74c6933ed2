namespace LlmStack.Api.Backends;

/// <summary>Supplies the built-in model served when no model is configured.</summary>
internal interface IDemoModelSource
{
    Task<ServedModel> CreateDemoModelAsync(CancellationToken cancellationToken);
}
